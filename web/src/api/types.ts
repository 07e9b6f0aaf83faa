import type { components } from "./schema";

// Wire shapes of the HTTP API (docs/api.md), generated from the server's OpenAPI schema
// (openapi.json -> schema.d.ts by scripts/gen-api.mjs). The report payload uses the same shapes.
type S = components["schemas"];

export type Finding = S["Finding"];
export type Severity = Finding["severity"];
export const SEVERITIES: readonly Severity[] = ["error", "warning", "info"];
export type SeverityCounts = S["FindingCounts"];
export type RunSummary = S["RunSummary"];
export type RunDetail = S["RunDetail"];
export type RunMeta = Omit<RunSummary, "findings">;
export type ScalarSeries = S["ScalarSeries"];
export type ParamInfo = S["LayerParam"];
export type LayerInfo = S["Layer"];
export type StatSeries = S["StatSeries"];
export type StatMatrix = S["StatMatrix"];
export type HistogramSeries = S["HistogramSeries"];
export type FindingsResult = S["Findings"];
export type ArtifactInfo = S["ArtifactInfo"];
export type Artifact = S["Artifact"];
export type TransformerInfo = S["TransformerInfo"];
export type HeadMatrix = S["HeadMatrix"];
export type OutputSeries = S["OutputSeries"];
export type AttentionPattern = S["AttentionPattern"];

/** The transformer part of a report payload (docs/api.md, "Report payload"). */
export interface TransformerPayload {
  info: TransformerInfo;
  heads?: Record<string, HeadMatrix>;
  blocks?: Record<string, StatMatrix>;
  output?: OutputSeries;
  /** module -> head -> patterns at the embedded steps. */
  patterns?: Record<string, Record<string, AttentionPattern[]>>;
}

/** Graph.to_dict(): the graph view owns its interpretation. */
export type GraphData = Record<string, unknown>;

/** `versions` event of /api/events: run id -> data version. */
export type Versions = Record<string, number>;

/** The report payload (docs/api.md, "Report payload"). */
export interface ReportPayload {
  runs: RunDetail[];
  scalars?: Record<string, Record<string, ScalarSeries>>;
  layers?: Record<string, LayerInfo[]>;
  stats?: Record<string, Record<string, StatMatrix>>;
  histograms?: Record<string, Record<string, HistogramSeries>>;
  graph?: Record<string, GraphData | null>;
  findings?: Record<string, FindingsResult>;
  artifacts?: Record<string, { info: ArtifactInfo; data: Record<string, unknown>; blobs?: Record<string, string> }[]>;
  transformer?: Record<string, TransformerPayload>;
}
