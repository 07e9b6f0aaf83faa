import { describe, expect, it } from "vitest";
import type { StatMatrix } from "../src/api/types";
import { columnAt, nearestStepIndex, toHeatmap } from "../src/lib/heatmap";

const m: StatMatrix = {
  kind: "grad",
  field: "norm",
  layers: ["fc1", "fc2"],
  steps: [0, 10, 20],
  values: [
    [1, 10, null],
    [100, 0, 1000],
  ],
};

describe("toHeatmap", () => {
  it("makes [step, layer, value] cells and skips missing values", () => {
    const h = toHeatmap(m, false);
    expect(h.cells).toEqual([
      [0, 0, 1],
      [1, 0, 10],
      [0, 1, 100],
      [1, 1, 0],
      [2, 1, 1000],
    ]);
    expect(h.layers).toEqual(["fc1", "fc2"]);
  });
  it("takes log10 and drops non-positive values on a log scale", () => {
    const h = toHeatmap(m, true);
    expect(h.cells).toEqual([
      [0, 0, 0],
      [1, 0, 1],
      [0, 1, 2],
      [2, 1, 3],
    ]);
    expect(h.min).toBe(0);
    expect(h.max).toBe(3);
  });
  it("clips the colour range to the 2nd-98th percentile", () => {
    const row = Array.from({ length: 100 }, (_, i) => i);
    row[99] = 1e9;
    const h = toHeatmap({ ...m, layers: ["a"], steps: row.map((_, i) => i), values: [row] }, false);
    expect(h.max).toBeLessThan(1000);
  });
  it("widens a constant range so the colour scale is valid", () => {
    const h = toHeatmap({ ...m, layers: ["a"], steps: [0, 1], values: [[5, 5]] }, false);
    expect(h.max).toBeGreaterThan(h.min);
  });
});

describe("columnAt / nearestStepIndex", () => {
  it("reads one step across layers", () => {
    expect(columnAt(m, 2)).toEqual([
      { layer: "fc1", value: null },
      { layer: "fc2", value: 1000 },
    ]);
  });
  it("finds the nearest sampled step", () => {
    expect(nearestStepIndex([0, 10, 20], 14)).toBe(1);
    expect(nearestStepIndex([0, 10, 20], 16)).toBe(2);
    expect(nearestStepIndex([0, 10, 20], 999)).toBe(2);
  });
});
