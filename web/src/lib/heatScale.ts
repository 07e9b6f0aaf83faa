// Colour scales of the layer-health heatmap. Special values get their own colours instead of
// disappearing into "no data": an exact 0 on a log scale (a gradient norm of 0 is a finding,
// not a gap), +-Inf (non-finite), and cells that were not recorded.
import { viridis } from "./colors";

export type RGB = [number, number, number];

export interface HeatScale {
  kind: "sequential" | "diverging";
  /** Sequential only: colour by log10 of the value. */
  log: boolean;
  /** Domain in colour space (log10 for log scales; symmetric around 0 when diverging). */
  min: number;
  max: number;
}

export const NOT_RECORDED: RGB = [236, 238, 241];
export const ZERO: RGB = [231, 41, 138];
export const NONFINITE: RGB = [200, 30, 45];

/** What a raw cell value is, for colour and legend. */
export type CellClass = "value" | "missing" | "zero" | "nonfinite";

export function classify(v: number | null | undefined, s: HeatScale): CellClass {
  if (v === null || v === undefined || Number.isNaN(v)) return "missing";
  if (s.kind === "diverging") return "value"; // +-Inf: the saturated ends
  if (!Number.isFinite(v)) return "nonfinite";
  if (s.log && v <= 0) return "zero";
  return "value";
}

function quantile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))] ?? 0;
}

/** The scale for these cells: 2nd-98th percentile, so one spike does not wash out the rest. */
export function makeHeatScale(rows: Iterable<readonly (number | null)[]>, kind: HeatScale["kind"], log: boolean): HeatScale {
  const xs: number[] = [];
  for (const row of rows) {
    for (const v of row) {
      if (v === null || !Number.isFinite(v)) continue;
      if (kind === "diverging") xs.push(Math.abs(v));
      else if (!log) xs.push(v);
      else if (v > 0) xs.push(Math.log10(v));
    }
  }
  xs.sort((a, b) => a - b);
  if (kind === "diverging") {
    const m = xs.length ? quantile(xs, 0.98) || xs[xs.length - 1] || 1 : 1;
    return { kind, log: false, min: -m, max: m };
  }
  let min = xs.length ? quantile(xs, 0.02) : 0;
  let max = xs.length ? quantile(xs, 0.98) : 1;
  if (min === max) {
    min -= 0.5;
    max += 0.5;
  }
  return { kind, log, min, max };
}

/** Blue (negative) - white - red (positive), RdBu-like, for differences between runs. */
export function diverging(t: number): RGB {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : t > 0 ? 1 : 0));
  const blue: RGB = [33, 102, 172];
  const red: RGB = [178, 24, 43];
  const white: RGB = [247, 247, 247];
  const [a, b, f] = x < 0.5 ? [blue, white, x / 0.5] : [white, red, (x - 0.5) / 0.5];
  return [0, 1, 2].map((k) => Math.round((a[k] as number) + ((b[k] as number) - (a[k] as number)) * f)) as RGB;
}

/** Position of a value in [0, 1] along the scale (clamped). */
export function position(s: HeatScale, v: number): number {
  const x = s.kind === "sequential" && s.log ? Math.log10(v) : v;
  if (!Number.isFinite(x)) return x > 0 ? 1 : 0;
  return Math.min(1, Math.max(0, (x - s.min) / (s.max - s.min || 1)));
}

export function cellColor(v: number | null | undefined, s: HeatScale): RGB {
  switch (classify(v, s)) {
    case "missing":
      return NOT_RECORDED;
    case "zero":
      return ZERO;
    case "nonfinite":
      return NONFINITE;
    default: {
      const t = position(s, v as number);
      return s.kind === "diverging" ? diverging(t) : viridis(t);
    }
  }
}

/** The colour at position t of the scale's ramp (for legends). */
export function rampColor(s: HeatScale, t: number): RGB {
  return s.kind === "diverging" ? diverging(t) : viridis(t);
}

/** The value shown at the ramp end `t` (0 or 1) of the legend. */
export function rampValue(s: HeatScale, t: number): number {
  const x = s.min + (s.max - s.min) * t;
  return s.kind === "sequential" && s.log ? Math.pow(10, x) : x;
}
