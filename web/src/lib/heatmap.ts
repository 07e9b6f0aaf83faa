/** Index of the step closest to `step` (the steps are sorted). */
export function nearestStepIndex(steps: readonly number[], step: number): number {
  let best = 0;
  for (let i = 1; i < steps.length; i++) {
    if (Math.abs((steps[i] as number) - step) < Math.abs((steps[best] as number) - step)) best = i;
  }
  return best;
}
