import type {
  Artifact,
  ArtifactInfo,
  AttentionPattern,
  FindingsResult,
  GraphData,
  HeadMatrix,
  HistogramSeries,
  LayerInfo,
  OutputSeries,
  RunDetail,
  RunSummary,
  ScalarSeries,
  StatMatrix,
  SeverityCounts,
  StatSeries,
  TransformerInfo,
  Versions,
} from "./types";

/** Callbacks of the live event stream (/api/events). */
export interface LiveHandlers {
  /** Data versions of runs that changed or appeared (all runs in the first event). */
  versions(v: Versions): void;
  /** Finding counts of runs whose background diagnosis finished. */
  findings?(counts: Record<string, SeverityCounts>): void;
  /** Whether the stream is connected. */
  state?(live: boolean): void;
}

export interface ScalarQuery {
  maxPoints?: number;
  start?: number;
  end?: number;
}

/**
 * Everything the views may ask. Two implementations: HTTP (the dashboard server) and report
 * (answers from the payload embedded in the HTML file, no network). Views never call fetch.
 */
export interface Api {
  readonly mode: "http" | "report";
  runs(): Promise<RunSummary[]>;
  run(runId: string): Promise<RunDetail>;
  scalarTags(runId: string): Promise<string[]>;
  scalars(runId: string, tag: string, q?: ScalarQuery): Promise<ScalarSeries>;
  layers(runId: string): Promise<LayerInfo[]>;
  statMatrix(runId: string, kind: string, field: string, maxSteps?: number): Promise<StatMatrix>;
  statSeries(runId: string, layer: string, kind: string, maxPoints?: number): Promise<StatSeries>;
  histograms(runId: string, layer: string, kind: string, maxSteps?: number): Promise<HistogramSeries>;
  graph(runId: string): Promise<GraphData>;
  findings(runId: string): Promise<FindingsResult>;
  artifacts(runId: string): Promise<ArtifactInfo[]>;
  artifact(runId: string, artifactId: number): Promise<Artifact>;
  /** A URL usable as <img src> for a stored blob (token in the query, or a data: URI). */
  blobUrl(runId: string, artifactId: number, key: string): string;
  /** What the transformer capture recognised (attention modules, blocks, outputs, probe). */
  transformerInfo(runId: string): Promise<TransformerInfo>;
  /** One per-head statistic of every attention module over steps. */
  headMatrix(runId: string, field: string, maxSteps?: number): Promise<HeadMatrix>;
  /** One residual-stream statistic of every block over steps. */
  blockMatrix(runId: string, field: string, maxSteps?: number): Promise<StatMatrix>;
  /** Output-logit statistics over steps. */
  outputSeries(runId: string, maxPoints?: number): Promise<OutputSeries>;
  /** The probe attention pattern of one head at the stored step nearest `step` (latest if omitted). */
  attentionPattern(runId: string, module: string, head: number, step?: number): Promise<AttentionPattern>;
  /** Live updates; returns an unsubscribe function. No-op in report mode. */
  subscribe(handlers: LiveHandlers): () => void;
}
