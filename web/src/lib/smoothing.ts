import type { Value } from "./downsample";

/**
 * TensorBoard's scalar smoothing: an exponential moving average debiased like Adam's first
 * moment, so the start of the curve is not pulled towards zero. `weight` in [0, 1): 0 = raw.
 * Missing or non-finite points stay missing and do not move the average. A constant series is
 * returned unchanged (debiasing would otherwise add float noise).
 */
export function emaSmooth(values: readonly Value[], weight: number): Value[] {
  const w = Math.min(Math.max(weight, 0), 0.999);
  if (w === 0) return values.slice();
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (finite.length > 0 && finite.every((v) => v === finite[0])) return values.slice();
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    last = last * w + (1 - w) * v;
    n += 1;
    return last / (1 - Math.pow(w, n));
  });
}

/** Values for a logarithmic axis: non-positive values cannot be drawn and become gaps. */
export function forLogAxis(values: readonly Value[]): Value[] {
  return values.map((v) => (v !== null && v > 0 ? v : null));
}
