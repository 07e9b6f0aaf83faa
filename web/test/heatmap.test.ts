import { describe, expect, it } from "vitest";
import { nearestStepIndex } from "../src/lib/heatmap";
import { cellColor, classify, makeHeatScale, NONFINITE, NOT_RECORDED, position, ZERO } from "../src/lib/heatScale";
import { bandParts } from "../src/charts/statBands";

describe("nearestStepIndex", () => {
  it("finds the nearest sampled step", () => {
    expect(nearestStepIndex([0, 10, 20], 14)).toBe(1);
    expect(nearestStepIndex([0, 10, 20], 16)).toBe(2);
    expect(nearestStepIndex([0, 10, 20], 999)).toBe(2);
  });
});

describe("heat scales", () => {
  it("a recorded 0 on a log scale is not 'not recorded'", () => {
    const s = makeHeatScale([[1, 10, 0, null, Infinity]], "sequential", true);
    expect(classify(0, s)).toBe("zero");
    expect(classify(null, s)).toBe("missing");
    expect(classify(Infinity, s)).toBe("nonfinite");
    expect(cellColor(0, s)).toEqual(ZERO);
    expect(cellColor(null, s)).toEqual(NOT_RECORDED);
    expect(cellColor(Infinity, s)).toEqual(NONFINITE);
    expect(s.min).toBe(0);
    expect(s.max).toBe(1);
  });
  it("linear scales colour 0 like any value; the range is the 2nd-98th percentile", () => {
    const row = Array.from({ length: 100 }, (_, i) => i);
    row.push(1e9);
    const s = makeHeatScale([row], "sequential", false);
    expect(classify(0, s)).toBe("value");
    expect(s.max).toBeLessThan(100);
    expect(makeHeatScale([[5, 5]], "sequential", false)).toMatchObject({ min: 4.5, max: 5.5 });
  });
  it("differences are symmetric around 0, infinities saturate", () => {
    const s = makeHeatScale([[-2, 1, 0.5, -Infinity]], "diverging", false);
    expect(s.min).toBe(-s.max);
    expect(position(s, 0)).toBe(0.5);
    expect(position(s, -Infinity)).toBe(0);
    expect(classify(Infinity, s)).toBe("value");
  });
});

describe("stat bands", () => {
  it("the band spans mean - std .. mean + std, also below zero", () => {
    const { lower, width } = bandParts([-0.1, 4.9, null], [0.425, 6, 1]);
    expect(lower[0]).toBeCloseTo(-0.525);
    expect((lower[0] as number) + (width[0] as number)).toBeCloseTo(0.325);
    expect(lower[1]).toBeCloseTo(-1.1);
    expect((lower[1] as number) + (width[1] as number)).toBeCloseTo(10.9);
    expect(lower[2]).toBeNull();
    expect(width[2]).toBeNull();
  });
});
