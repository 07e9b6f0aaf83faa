import { describe, expect, it } from "vitest";
import { mergeDetail, minmaxIndices } from "../src/lib/downsample";

describe("minmaxIndices", () => {
  it("matches the Python docstring example", () => {
    expect(minmaxIndices([0, 5, 1, 1, -3, 1, 2, 2], 4)).toEqual([0, 1, 4, 7]);
  });
  it("keeps everything when short enough", () => {
    expect(minmaxIndices([1, 2, 3], 10)).toEqual([0, 1, 2]);
  });
  it("keeps first, last and a single spike in a long series", () => {
    const v = Array.from({ length: 100_000 }, (_, i) => Math.sin(i / 1000));
    v[54_321] = 1e6;
    const idx = minmaxIndices(v, 500);
    expect(idx.length).toBeLessThanOrEqual(500);
    expect(idx[0]).toBe(0);
    expect(idx[idx.length - 1]).toBe(99_999);
    expect(idx).toContain(54_321);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
  });
  it("ignores nulls when picking extremes", () => {
    const idx = minmaxIndices([0, null, null, 7, null, -2, null, null, null, 1], 4);
    expect(idx).toContain(3);
    expect(idx).toContain(5);
  });
});

describe("mergeDetail", () => {
  const overview = { steps: [0, 10, 20, 30, 40, 50], values: [0, 1, 2, 3, 4, 5] };
  it("replaces the overview inside the detail window only", () => {
    const detail = { steps: [18, 19, 20, 21, 22, 31], values: [9, 9, 9, 9, 9, 9] };
    const m = mergeDetail(overview, detail);
    expect(m.steps).toEqual([0, 10, 18, 19, 20, 21, 22, 31, 40, 50]);
    expect(m.values).toEqual([0, 1, 9, 9, 9, 9, 9, 9, 4, 5]);
  });
  it("keeps steps sorted and unique", () => {
    const m = mergeDetail(overview, { steps: [10, 15, 20], values: [7, 7, 7] });
    expect(m.steps).toEqual([0, 10, 15, 20, 30, 40, 50]);
    expect(new Set(m.steps).size).toBe(m.steps.length);
  });
  it("carries wall times through the merge when both sides have them", () => {
    const m = mergeDetail({ ...overview, walls: [100, 110, 120, 130, 140, 150] }, { steps: [25], values: [7], walls: [125] });
    expect(m.steps).toEqual([0, 10, 20, 25, 30, 40, 50]);
    expect(m.walls).toEqual([100, 110, 120, 125, 130, 140, 150]);
    expect(mergeDetail(overview, { steps: [25], values: [7], walls: [125] }).walls).toBeUndefined();
  });
  it("returns the overview for an empty detail", () => {
    expect(mergeDetail(overview, { steps: [], values: [] })).toBe(overview);
  });
});
