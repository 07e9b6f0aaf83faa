import { describe, expect, it } from "vitest";
import { emaSmooth, forLogAxis } from "../src/lib/smoothing";

describe("emaSmooth", () => {
  it("is the identity at weight 0", () => {
    expect(emaSmooth([3, 1, 2], 0)).toEqual([3, 1, 2]);
  });
  it("is debiased: the first point is the first value", () => {
    const s = emaSmooth([10, 0, 0], 0.9);
    expect(s[0]).toBeCloseTo(10, 12);
  });
  it("matches TensorBoard's formula", () => {
    const w = 0.6;
    const v = [1, 4, 2, 8];
    let last = 0;
    const expected = v.map((x, i) => {
      last = last * w + (1 - w) * x;
      return last / (1 - Math.pow(w, i + 1));
    });
    const got = emaSmooth(v, w);
    got.forEach((g, i) => expect(g).toBeCloseTo(expected[i] as number, 12));
  });
  it("leaves constant series exactly unchanged", () => {
    expect(emaSmooth([0.1, 0.1, 0.1, 0.1], 0.95)).toEqual([0.1, 0.1, 0.1, 0.1]);
  });
  it("skips missing and non-finite points without moving the average", () => {
    const s = emaSmooth([1, null, NaN, 1, 3], 0.5);
    expect(s[1]).toBeNull();
    expect(s[2]).toBeNull();
    expect(s[3]).toBeCloseTo(1, 12);
    // Three finite points: EMA 0.5*0.5*0.5*1 + 0.5*0.5*1 + 0.5*3, debiased by 1 - 0.5^3.
    expect(s[4]).toBeCloseTo((0.125 + 0.25 + 1.5) / (1 - 0.125), 12);
  });
  it("smooths noise towards the mean", () => {
    const v = Array.from({ length: 400 }, (_, i) => (i % 2 ? 1 : -1));
    const s = emaSmooth(v, 0.9);
    expect(Math.abs(s[399] as number)).toBeLessThan(0.1);
  });
});

describe("forLogAxis", () => {
  it("drops non-positive values", () => {
    expect(forLogAxis([1, 0, -2, null, 3])).toEqual([1, null, null, null, 3]);
  });
});
