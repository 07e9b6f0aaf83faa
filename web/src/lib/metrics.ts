// Final and best values of scalar tags, for the runs table's metric columns, the overview's
// metric cards and the parallel-coordinates chart. Computed from a min/max-downsampled series:
// downsampling keeps the first and last point and every bucket's minimum and maximum, so the
// last, minimum and maximum values are exact.
import type { ScalarSeries } from "../api/types";

export interface TagSummary {
  tag: string;
  points: number;
  last: number | null;
  lastStep: number | null;
  min: number | null;
  minStep: number | null;
  max: number | null;
  maxStep: number | null;
  /** Which way is better for this tag: "min" for losses and errors, else "max". */
  better: "min" | "max";
  best: number | null;
  bestStep: number | null;
}

export type Reduction = "last" | "best" | "min" | "max";
export const REDUCTIONS: readonly Reduction[] = ["last", "best", "min", "max"];

/** Lower is better for losses, errors and distances; higher for everything else (accuracy, F1, ...). */
export function betterOf(tag: string): "min" | "max" {
  return /loss|err|mse|mae|rmse|perplexity|ppl|nll|cost|distance|wer|cer/i.test(tag) ? "min" : "max";
}

export function summarize(s: ScalarSeries): TagSummary {
  let min: number | null = null;
  let max: number | null = null;
  let minStep: number | null = null;
  let maxStep: number | null = null;
  s.values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) return;
    if (min === null || v < min) [min, minStep] = [v, s.steps[i] ?? null];
    if (max === null || v > max) [max, maxStep] = [v, s.steps[i] ?? null];
  });
  const n = s.steps.length;
  const better = betterOf(s.tag);
  return {
    tag: s.tag,
    points: s.total_points,
    last: n ? (s.values[n - 1] ?? null) : null,
    lastStep: n ? (s.steps[n - 1] ?? null) : null,
    min, minStep, max, maxStep, better,
    best: better === "min" ? min : max,
    bestStep: better === "min" ? minStep : maxStep,
  };
}

export function reduce(t: TagSummary | null | undefined, how: Reduction): number | null {
  if (!t) return null;
  return how === "last" ? t.last : how === "best" ? t.best : how === "min" ? t.min : t.max;
}

/** "val/loss" before "train/loss" before anything else: what a metric strip shows first. */
export function metricOrder(tags: readonly string[]): string[] {
  const rank = (t: string): number => (/^(val|valid|validation|eval|test)[/_]/i.test(t) ? 0 : /^train[/_]/i.test(t) ? 1 : 2) * 2 + (/loss/i.test(t) ? 0 : 1);
  return [...tags].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** The recognised training and validation loss tags (the names diagnosis recognises). */
export function lossTags(tags: readonly string[]): { train: string | null; val: string | null } {
  const find = (names: string[]): string | null => names.find((n) => tags.includes(n)) ?? null;
  return {
    train: find(["train/loss", "train_loss", "loss"]),
    val: find(["val/loss", "val_loss", "valid/loss", "validation/loss", "eval/loss", "test/loss"]),
  };
}
