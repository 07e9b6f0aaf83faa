// The weights artifact's data (docs/artifacts.md): per-layer spectra, power-law fits and verdicts,
// shared by the Weights view and its comparison of runs.
import type { Artifact } from "../api";
import { numberList } from "./explainShared";

export interface LayerEntry {
  name: string;
  type: string;
  shape: number[];
  image: string;
  image_kind: "filters" | "matrix";
  singular_values: number[];
  alpha: number | null;
  alpha_xmin: number | null;
  alpha_ks: number | null;
  alpha_n_tail: number;
  quality: string;
  quality_reason?: string;
  mp_edge_ratio?: number | null;
  stable_rank: number | null;
}

export const QUALITY_COLOR: Record<string, string> = { well_trained: "#2ca02c", under_trained: "#ff7f0e", over_fit: "#d62728", random_like: "#8c564b", no_power_law: "#777", too_small: "#999", unknown: "#777" };
export const QUALITY_TEXT: Record<string, string> = { too_small: "too small to judge", random_like: "random-like", no_power_law: "no power-law tail" };

export function layersOf(a: Artifact): LayerEntry[] {
  const layers = (a.data as Record<string, unknown>).layers;
  return Array.isArray(layers) ? (layers as LayerEntry[]) : [];
}

/** Eigenvalues (descending) and the share of eigenvalues >= each: the log-log survival curve. */
export function survival(e: LayerEntry): [number, number][] {
  const n = Math.max(e.shape[0] ?? 1, e.shape.slice(1).reduce((a, b) => a * b, 1));
  const eig = numberList(e.singular_values).map((s) => (s * s) / n).filter((v) => v > 0).sort((a, b) => b - a);
  return eig.map((v, i) => [v, (i + 1) / eig.length]);
}
