// Wire shapes of the HTTP API (docs/api.md): the to_dict() of deepscope.store.records.
// Kept in step with the generated schema.d.ts by the assertions in schema-check.ts.

export type Severity = "info" | "warning" | "error";
export const SEVERITIES: readonly Severity[] = ["error", "warning", "info"];

export interface RunMeta {
  id: string;
  name: string;
  path: string;
  status: string;
  started_at: number;
  ended_at: number | null;
  heartbeat: number | null;
  duration: number | null;
  config: Record<string, unknown>;
  host: string;
  pid: number | null;
  torch_version: string;
  python_version: string;
  git_commit: string | null;
  deepscope_version: string;
  schema_version: number;
  last_step: number | null;
  error: string | null;
}

export type SeverityCounts = Record<Severity, number>;

export interface RunSummary extends RunMeta {
  findings: SeverityCounts;
}

export interface RunDetail extends RunSummary {
  tags: string[];
  layers: number;
  kinds: string[];
}

export interface ScalarSeries {
  tag: string;
  steps: number[];
  values: (number | null)[];
  walls: number[];
  total_points: number;
  downsampled: boolean;
}

export interface ParamInfo {
  name: string;
  shape: number[];
  numel: number;
  requires_grad: boolean;
  in_optimizer: boolean | null;
}

export interface LayerInfo {
  name: string;
  type: string;
  family: string;
  order: number;
  num_params: number;
  trainable_params: number;
  params: ParamInfo[];
}

export interface StatSeries {
  layer: string;
  kind: string;
  steps: number[];
  fields: Record<string, (number | null)[]>;
}

export interface StatMatrix {
  kind: string;
  field: string;
  layers: string[];
  steps: number[];
  values: (number | null)[][];
}

export interface HistogramSeries {
  layer: string;
  kind: string;
  steps: number[];
  lo: (number | null)[];
  hi: (number | null)[];
  counts: number[][];
}

export interface Finding {
  code: string;
  severity: Severity;
  layer: string | null;
  step: number | null;
  message: string;
  evidence: Record<string, unknown>;
  suggestion: string;
}

export interface FindingsResult {
  ok: boolean;
  findings: Finding[];
}

export interface ArtifactInfo {
  id: number;
  name: string;
  kind: string;
  step: number | null;
  wall: number;
  blob_keys: string[];
}

export interface Artifact {
  info: ArtifactInfo;
  data: Record<string, unknown>;
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
}
