import type { StatMatrix } from "../api/types";

export interface HeatmapData {
  /** [stepIndex, layerIndex, value] triples; cells without data are left out. */
  cells: [number, number, number][];
  steps: number[];
  layers: string[];
  min: number;
  max: number;
  /** True when `cells` hold log10 of the statistic. */
  log: boolean;
}

/**
 * Layers x steps matrix -> heatmap cells. With `log`, values become log10 (non-positive values
 * are dropped: a zero gradient norm is shown as "no data" rather than as -Infinity). The colour
 * range is the 2nd-98th percentile so one spike does not wash out the rest.
 */
export function toHeatmap(m: StatMatrix, log: boolean): HeatmapData {
  const cells: [number, number, number][] = [];
  m.values.forEach((row, li) => {
    row.forEach((v, si) => {
      if (v === null || !Number.isFinite(v)) return;
      if (log) {
        if (v <= 0) return;
        cells.push([si, li, Math.log10(v)]);
      } else cells.push([si, li, v]);
    });
  });
  const sorted = cells.map((c) => c[2]).sort((a, b) => a - b);
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))] ?? 0;
  let min = q(0.02);
  let max = q(0.98);
  if (min === max) {
    min -= 0.5;
    max += 0.5;
  }
  return { cells, steps: m.steps, layers: m.layers, min, max, log };
}

/** One column of the matrix (every layer at step index `si`), for the gradient-flow chart. */
export function columnAt(m: StatMatrix, si: number): { layer: string; value: number | null }[] {
  return m.layers.map((layer, li) => ({ layer, value: m.values[li]?.[si] ?? null }));
}

/** Index of the step closest to `step` (the steps are sorted). */
export function nearestStepIndex(steps: readonly number[], step: number): number {
  let best = 0;
  for (let i = 1; i < steps.length; i++) {
    if (Math.abs((steps[i] as number) - step) < Math.abs((steps[best] as number) - step)) best = i;
  }
  return best;
}
