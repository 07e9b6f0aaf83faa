import type {
  Artifact,
  ArtifactInfo,
  FindingsResult,
  GraphData,
  HistogramSeries,
  LayerInfo,
  RunDetail,
  RunSummary,
  ScalarSeries,
  StatMatrix,
  SeverityCounts,
  StatSeries,
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
  /** Live updates; returns an unsubscribe function. No-op in report mode. */
  subscribe(handlers: LiveHandlers): () => void;
}
