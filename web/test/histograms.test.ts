import { describe, expect, it } from "vitest";
import type { HistogramSeries } from "../src/api/types";
import { evenlySpaced, rebin, rowShades, stepCurve } from "../src/lib/histograms";

const h: HistogramSeries = {
  layer: "fc1",
  kind: "weight",
  steps: [0, 1],
  lo: [0, 2],
  hi: [2, 4],
  counts: [
    [10, 30],
    [5, 5],
  ],
};

describe("rebin", () => {
  it("puts every step on one grid and normalises rows", () => {
    const r = rebin(h, 4);
    expect(r.edges).toEqual([0, 1, 2, 3, 4]);
    expect(r.density[0]).toEqual([0.25, 0.75, 0, 0]);
    expect(r.density[1]).toEqual([0, 0, 0.5, 0.5]);
  });
  it("splits a source bin over the target bins it overlaps", () => {
    const r = rebin({ ...h, steps: [0], lo: [0], hi: [4], counts: [[4]] }, 4);
    expect(r.density[0]).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
  it("keeps steps with no finite range as empty rows", () => {
    const r = rebin({ ...h, lo: [0, null], hi: [2, null] }, 2);
    expect(r.density[1]).toEqual([0, 0]);
    expect(r.density[0]?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
  it("handles degenerate ranges (all values equal)", () => {
    const r = rebin({ ...h, steps: [0], lo: [1], hi: [1], counts: [[3, 0]] }, 3);
    expect(r.density[0]?.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});

describe("stepCurve / evenlySpaced", () => {
  it("gives bin centres and densities integrating to 1", () => {
    const c = stepCurve(h, 0);
    expect(c.map((p) => p[0])).toEqual([0.5, 1.5]);
    expect(c.reduce((a, p) => a + p[1] * 1, 0)).toBeCloseTo(1, 12);
  });
  it("picks evenly spaced indices with first and last", () => {
    expect(evenlySpaced(5, 10)).toEqual([0, 1, 2, 3, 4]);
    const idx = evenlySpaced(100, 5);
    expect(idx[0]).toBe(0);
    expect(idx[idx.length - 1]).toBe(99);
    expect(idx.length).toBe(5);
  });
});

describe("rowShades", () => {
  it("scales each row to its peak with a square root, keeping empty bins empty", () => {
    expect(rowShades([0, 0.25, 1, 0])).toEqual([0, 0.5, 1, 0]);
    expect(rowShades([0, 0])).toEqual([0, 0]);
    expect(rowShades([0.01, 0.04])).toEqual([0.5, 1]);
  });
});
