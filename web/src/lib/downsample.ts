// Client side of the server's min/max downsampling (deepscope.store.downsample): the report
// backend thins embedded series the same way, and zooming merges a detailed window into the
// overview series.

export type Value = number | null;

export function pick<T>(xs: readonly T[], idx: readonly number[]): T[] {
  return idx.map((i) => xs[i] as T);
}

/**
 * Indices of at most `maxPoints` points keeping the first, the last and, per bucket, the minimum
 * and maximum (nulls ignored), ascending. Same rule as the Python `minmax_indices`.
 */
export function minmaxIndices(values: readonly Value[], maxPoints: number): number[] {
  const n = values.length;
  if (n <= maxPoints) return values.map((_, i) => i);
  if (maxPoints < 4) {
    const k = Math.max(maxPoints, 1);
    const out = new Set<number>();
    for (let j = 0; j < k; j++) out.add(Math.round(k === 1 ? 0 : (j * (n - 1)) / (k - 1)));
    return [...out].sort((a, b) => a - b);
  }
  const buckets = Math.floor((maxPoints - 2) / 2);
  const m = n - 2;
  const keep = new Set<number>([0, n - 1]);
  for (let b = 0; b < buckets; b++) {
    const s = Math.floor((b * m) / buckets);
    const e = Math.floor(((b + 1) * m) / buckets);
    let lo = -1;
    let hi = -1;
    for (let i = s; i < e; i++) {
      const v = values[i + 1];
      if (v === null || v === undefined || Number.isNaN(v)) continue;
      if (lo < 0 || v < (values[lo + 1] as number)) lo = i;
      if (hi < 0 || v > (values[hi + 1] as number)) hi = i;
    }
    if (lo < 0 && e > s) lo = hi = s; // an all-null bucket keeps one point so the gap shows
    if (lo >= 0) keep.add(lo + 1);
    if (hi >= 0) keep.add(hi + 1);
  }
  return [...keep].sort((a, b) => a - b);
}

export interface XY {
  steps: number[];
  values: Value[];
  /** Wall-clock seconds per point, when the series has them (kept through merges). */
  walls?: number[];
}

/**
 * Replace the overview's points inside the detail's step range by the detail's points: zooming
 * fetches [start, end] at full resolution (still capped by the server) and the chart keeps the
 * coarse overview outside that window, so panning out never shows an empty chart.
 */
export function mergeDetail(overview: XY, detail: XY): XY {
  if (detail.steps.length === 0) return overview;
  const first = detail.steps[0] as number;
  const last = detail.steps[detail.steps.length - 1] as number;
  const withWalls = overview.walls !== undefined && detail.walls !== undefined;
  const out: Required<XY> = { steps: [], values: [], walls: [] };
  const take = (src: XY, i: number): void => {
    out.steps.push(src.steps[i] as number);
    out.values.push(src.values[i] ?? null);
    if (withWalls) out.walls.push(src.walls?.[i] as number);
  };
  let i = 0;
  const n = overview.steps.length;
  while (i < n && (overview.steps[i] as number) < first) take(overview, i++);
  for (let j = 0; j < detail.steps.length; j++) take(detail, j);
  while (i < n && (overview.steps[i] as number) <= last) i++;
  for (; i < n; i++) take(overview, i);
  return withWalls ? out : { steps: out.steps, values: out.values };
}
