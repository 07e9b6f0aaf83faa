import { describe, expect, it } from "vitest";
import { macroF1, recallByClass } from "../src/views/predictionData";
import type { PredictionData } from "../src/views/predictionData";

function data(classes: string[], recall: number[], f1: number[], support: number[]): PredictionData {
  return { n: 10, classes, accuracy: 0.5, confusion: [], precision: [], recall, f1, support, edges: [], binConfidence: [], binAccuracy: [], binCount: [], ece: 0, labels: [], predicted: [], probabilities: [], mistakes: [] };
}

describe("recallByClass", () => {
  it("matches classes by name, not position; a missing or empty class is NaN", () => {
    const d = data(["b", "a", "c"], [0.2, 0.9, 0.5], [0.3, 0.8, 0], [5, 5, 0]);
    const r = recallByClass(d, ["a", "b", "c", "z"]);
    expect(r.slice(0, 2)).toEqual([0.9, 0.2]);
    expect(Number.isNaN(r[2])).toBe(true);
    expect(Number.isNaN(r[3])).toBe(true);
  });
  it("macro F1 averages the classes with samples only", () => {
    expect(macroF1(data(["a", "b", "c"], [], [0.4, 0.8, 0], [3, 3, 0]))).toBeCloseTo(0.6);
  });
});
