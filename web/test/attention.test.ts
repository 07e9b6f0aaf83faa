import { describe, expect, it } from "vitest";
import type { HeadMatrix } from "../src/api/types";
import { headGrid, headRange, headSeries, nearestIndex, patternCells, tokenLabels } from "../src/lib/attention";

const m: HeadMatrix = {
  field: "entropy_mean",
  modules: ["h.0.attn", "h.1.attn"],
  heads: [2, 1],
  steps: [0, 10, 20],
  values: [
    [[3, 2.5], [3.1, null]],
    [[1, 0.5], [2, null]],
    [[0.1, null], [0.01, null]],
  ],
};

describe("headGrid", () => {
  it("lists every existing head of every module at one step", () => {
    expect(headGrid(m, 1)).toEqual([[0, 0, 1], [1, 0, 0.5], [0, 1, 2]]);
  });
  it("keeps missing values as null and takes log10 on request", () => {
    expect(headGrid(m, 2, true)).toEqual([[0, 0, -1], [1, 0, null], [0, 1, -2]]);
  });
});

describe("headRange", () => {
  it("spans every step (colours stay put while the slider moves)", () => {
    expect(headRange(m)).toEqual([0.01, 3.1]);
  });
  it("widens a single value and falls back when nothing is finite", () => {
    const one: HeadMatrix = { ...m, values: [[[2]], [[2]]], modules: ["a"], heads: [1], steps: [0, 1] };
    expect(headRange(one)).toEqual([1.5, 2.5]);
    expect(headRange({ ...m, values: [] })).toEqual([0, 1]);
  });
  it("pins the low end when asked (entropies start at 0)", () => {
    expect(headRange(m, false, 0)).toEqual([0, 3.1]);
  });
});

describe("headSeries and nearestIndex", () => {
  it("follows one head over steps", () => {
    expect(headSeries(m, 0, 1)).toEqual([[0, 2.5], [10, 0.5], [20, null]]);
  });
  it("finds the closest step, the earlier on ties", () => {
    expect(nearestIndex([0, 10, 20], 14)).toBe(1);
    expect(nearestIndex([0, 10, 20], 15)).toBe(1);
    expect(nearestIndex([0, 10, 20], 99)).toBe(2);
  });
});

describe("patterns", () => {
  it("turns rows of weights into [key, query, weight] cells", () => {
    expect(patternCells([[1, null], [0.25, 0.75]])).toEqual([[0, 0, 1], [0, 1, 0.25], [1, 1, 0.75]]);
  });
  it("labels positions with visible tokens, or their index", () => {
    expect(tokenLabels(["a", " b", "\n", "abcdefghijklmnop"], 5)).toEqual(["0:a", "1:␣b", "2:↵", "3:abcdefghijk…", "4"]);
    expect(tokenLabels(null, 2)).toEqual(["0", "1"]);
  });
});
