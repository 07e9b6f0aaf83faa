// Pure transforms behind the attention and residual-stream views (unit-tested in test/attention.test.ts).
import type { HeadMatrix } from "../api/types";

/** [head, module index, value] cells of the layer x head grid at step index `si`. */
export function headGrid(m: HeadMatrix, si: number, log = false): [number, number, number | null][] {
  const cells: [number, number, number | null][] = [];
  const step = m.values[si] ?? [];
  m.modules.forEach((_, mi) => {
    const row = step[mi] ?? [];
    const heads = m.heads[mi] ?? 0;
    for (let h = 0; h < heads; h++) cells.push([h, mi, scaled(row[h] ?? null, log)]);
  });
  return cells;
}

function scaled(v: number | null, log: boolean): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  if (!log) return v;
  return v > 0 ? Math.log10(v) : null;
}

/**
 * Colour range over every step, so colours mean the same while the step slider moves. `floor`
 * pins the low end (entropies and shares start at 0, so a healthy run is not painted as if its
 * small differences were a collapse).
 */
export function headRange(m: HeadMatrix, log = false, floor: number | null = null): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const step of m.values) {
    for (const row of step) {
      for (const raw of row) {
        const v = scaled(raw, log);
        if (v === null) continue;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (floor !== null) return [floor, Math.max(hi, floor + 1e-9)];
  return lo === hi ? [lo - 0.5, hi + 0.5] : [lo, hi];
}

/** One head's statistic over steps: [step, value] pairs (missing values as null). */
export function headSeries(m: HeadMatrix, module: number, head: number): [number, number | null][] {
  return m.steps.map((s, si) => {
    const v = m.values[si]?.[module]?.[head];
    return [s, v === undefined || v === null || !Number.isFinite(v) ? null : v];
  });
}

/** Index of the value in sorted `steps` closest to `step` (ties: the earlier one). */
export function nearestIndex(steps: readonly number[], step: number): number {
  let best = 0;
  for (let i = 1; i < steps.length; i++) {
    if (Math.abs((steps[i] as number) - step) < Math.abs((steps[best] as number) - step)) best = i;
  }
  return best;
}

/** [key, query, weight] cells of an attention pattern (query rows, key columns). */
export function patternCells(values: readonly (readonly (number | null)[])[]): [number, number, number][] {
  const cells: [number, number, number][] = [];
  values.forEach((row, q) => row.forEach((v, k) => {
    if (v !== null && Number.isFinite(v)) cells.push([k, q, v]);
  }));
  return cells;
}

/**
 * Axis labels of `n` probe positions: the token strings when given (whitespace made visible,
 * long ones cut), else the position. Always `n` labels, made unique with the position.
 */
export function tokenLabels(tokens: readonly string[] | null | undefined, n: number): string[] {
  return Array.from({ length: n }, (_, i) => {
    const t = tokens?.[i];
    if (t === undefined) return String(i);
    const shown = t.replace(/\n/g, "↵").replace(/\t/g, "⇥").replace(/ /g, "␣");
    return `${i}:${shown.length > 12 ? `${shown.slice(0, 11)}…` : shown}`;
  });
}
