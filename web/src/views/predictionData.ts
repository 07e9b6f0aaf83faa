// The predictions artifact's data (docs/artifacts.md), read once for the Predictions view and
// its comparison of runs.
import type { Artifact } from "../api";
import { matrix, numberList, stringList } from "./explainShared";

export interface Mistake { index: number; label: number; predicted: number; confidence: number; image: string | null }

export interface PredictionData {
  n: number;
  classes: string[];
  accuracy: number;
  confusion: number[][];
  precision: number[];
  recall: number[];
  f1: number[];
  support: number[];
  edges: number[];
  binConfidence: number[];
  binAccuracy: number[];
  binCount: number[];
  ece: number;
  labels: number[];
  predicted: number[];
  probabilities: number[][];
  mistakes: Mistake[];
}

export function asData(a: Artifact): PredictionData {
  const d = a.data as Record<string, unknown>;
  const cal = (d.calibration ?? {}) as Record<string, unknown>;
  return {
    n: Number(d.n ?? 0),
    classes: stringList(d.classes),
    accuracy: Number(d.accuracy),
    confusion: matrix(d.confusion),
    precision: numberList(d.precision),
    recall: numberList(d.recall),
    f1: numberList(d.f1),
    support: numberList(d.support),
    edges: numberList(cal.edges),
    binConfidence: numberList(cal.confidence),
    binAccuracy: numberList(cal.accuracy),
    binCount: numberList(cal.count),
    ece: Number(cal.ece),
    labels: numberList(d.labels),
    predicted: numberList(d.predicted),
    probabilities: matrix(d.probabilities),
    mistakes: Array.isArray(d.mistakes) ? (d.mistakes as Mistake[]) : [],
  };
}

/** Recall of each of `classes` in `d` (NaN when `d` has no such class or no sample of it). */
export function recallByClass(d: PredictionData, classes: readonly string[]): number[] {
  return classes.map((c) => {
    const i = d.classes.indexOf(c);
    return i < 0 || !(d.support[i] ?? 0) ? Number.NaN : (d.recall[i] ?? Number.NaN);
  });
}

/** Mean F1 over the classes that have samples. */
export function macroF1(d: PredictionData): number {
  const f = d.f1.filter((v, i) => Number.isFinite(v) && (d.support[i] ?? 0) > 0);
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : Number.NaN;
}
