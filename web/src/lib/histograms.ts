import type { HistogramSeries } from "../api/types";

export interface Rebinned {
  steps: number[];
  /** Common bin edges over all steps (nbins + 1 values). */
  edges: number[];
  /** density[stepIndex][bin]: share of the step's elements in that common bin. */
  density: number[][];
}

/**
 * Put every step's fixed-k histogram (its own [lo, hi]) on one common grid, spreading each source
 * bin over the target bins it overlaps (uniform within a bin). Rows are normalised to sum to 1 so
 * steps with different element counts compare. Steps with no finite range are empty rows.
 */
export function rebin(h: HistogramSeries, nbins: number): Rebinned {
  let gmin = Infinity;
  let gmax = -Infinity;
  h.steps.forEach((_, i) => {
    const lo = h.lo[i];
    const hi = h.hi[i];
    if (lo === null || hi === null || lo === undefined || hi === undefined) return;
    gmin = Math.min(gmin, lo);
    gmax = Math.max(gmax, hi);
  });
  if (!Number.isFinite(gmin) || !Number.isFinite(gmax)) return { steps: h.steps, edges: [], density: h.steps.map(() => []) };
  if (gmax === gmin) {
    gmin -= 0.5;
    gmax += 0.5;
  }
  const width = (gmax - gmin) / nbins;
  const edges = Array.from({ length: nbins + 1 }, (_, j) => gmin + j * width);
  const density = h.steps.map((_, i) => {
    const row = new Array<number>(nbins).fill(0);
    const lo = h.lo[i];
    const hi = h.hi[i];
    const counts = h.counts[i] ?? [];
    const total = counts.reduce((a, b) => a + b, 0);
    if (lo === null || hi === null || lo === undefined || hi === undefined || total === 0) return row;
    const k = counts.length;
    const sw = (hi - lo) / k;
    counts.forEach((c, b) => {
      if (c === 0) return;
      const a0 = lo + b * sw;
      const a1 = a0 + sw;
      if (sw === 0) {
        const t = Math.min(nbins - 1, Math.max(0, Math.floor((a0 - gmin) / width)));
        row[t] = (row[t] as number) + c / total;
        return;
      }
      const t0 = Math.max(0, Math.floor((a0 - gmin) / width));
      const t1 = Math.min(nbins - 1, Math.floor((a1 - gmin) / width));
      for (let t = t0; t <= t1; t++) {
        const e0 = gmin + t * width;
        const overlap = Math.min(a1, e0 + width) - Math.max(a0, e0);
        if (overlap > 0) row[t] = (row[t] as number) + (c / total) * (overlap / sw);
      }
    });
    return row;
  });
  return { steps: h.steps, edges, density };
}

/** Bin centres and densities (share per unit of value) of one step, for a ridgeline curve. */
export function stepCurve(h: HistogramSeries, i: number): [number, number][] {
  const lo = h.lo[i];
  const hi = h.hi[i];
  const counts = h.counts[i] ?? [];
  const total = counts.reduce((a, b) => a + b, 0);
  if (lo === null || hi === null || lo === undefined || hi === undefined || total === 0) return [];
  const k = counts.length;
  const w = (hi - lo) / k || 1;
  return counts.map((c, b) => [lo + (b + 0.5) * w, c / total / w]);
}

/** Evenly spaced indices (first and last kept), so a ridgeline shows at most `n` curves. */
export function evenlySpaced(length: number, n: number): number[] {
  if (length <= n) return Array.from({ length }, (_, i) => i);
  const out = new Set<number>();
  for (let j = 0; j < n; j++) out.add(Math.round((j * (length - 1)) / (n - 1)));
  return [...out];
}

/**
 * Shades for one step's row of a distribution heatmap: share / the row's largest share, square
 * rooted, so each step's shape shows even when one step is concentrated in a single bin and the
 * thin tails (outliers) stay visible. Empty bins stay 0 (drawn as background).
 */
export function rowShades(row: readonly number[]): number[] {
  const max = Math.max(0, ...row);
  return row.map((d) => (max > 0 && d > 0 ? Math.sqrt(d / max) : 0));
}
