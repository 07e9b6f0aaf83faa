import type { Api, LiveHandlers, ScalarQuery } from "./api";
import { decodeMatrix } from "./binary";
import { ApiError, NotRecordedError } from "./errors";
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
  StatSeries,
  TransformerInfo,
} from "./types";

type Query = Record<string, string | number | undefined>;

/** The dashboard server backend: the only fetch and EventSource caller of the app. */
export class HttpApi implements Api {
  readonly mode = "http" as const;

  constructor(
    private readonly base: string,
    private readonly token: string | null,
  ) {}

  private url(path: string, query: Query = {}, withToken = false): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    if (withToken && this.token) params.set("token", this.token);
    const qs = params.toString();
    return `${this.base}${path}${qs ? `?${qs}` : ""}`;
  }

  private async get<T>(path: string, query: Query = {}): Promise<T> {
    return (await (await this.fetchOk(path, query, "application/json")).json()) as T;
  }

  private async fetchOk(path: string, query: Query, accept: string): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(this.url(path, query), { headers });
    } catch (err) {
      throw new ApiError(`cannot reach the deepscope server (${String(err)})`, 0);
    }
    if (res.ok) return res;
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: unknown; detail?: unknown };
      if (typeof body.error === "string") message = body.error;
      else if (body.detail !== undefined) message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    } catch {
      /* not JSON: keep the status line */
    }
    if (res.status === 404) throw new NotRecordedError(message);
    throw new ApiError(message, res.status);
  }

  private runPath(runId: string, rest = ""): string {
    return `/api/runs/${encodeURIComponent(runId)}${rest}`;
  }

  runs(): Promise<RunSummary[]> {
    return this.get("/api/runs");
  }
  run(runId: string): Promise<RunDetail> {
    return this.get(this.runPath(runId));
  }
  async scalarTags(runId: string): Promise<string[]> {
    return (await this.get<{ tags: string[] }>(this.runPath(runId, "/scalars"))).tags;
  }
  scalars(runId: string, tag: string, q: ScalarQuery = {}): Promise<ScalarSeries> {
    return this.get(this.runPath(runId, "/scalars/series"), {
      tag,
      max_points: q.maxPoints,
      start: q.start,
      end: q.end,
    });
  }
  layers(runId: string): Promise<LayerInfo[]> {
    return this.get(this.runPath(runId, "/layers"));
  }
  async statMatrix(runId: string, kind: string, field: string, maxSteps?: number): Promise<StatMatrix> {
    // Binary: a 500 x 500 matrix is 1 MB instead of 4.8 MB of JSON, and keeps +-Infinity.
    const res = await this.fetchOk(this.runPath(runId, "/stats"), { kind, field, max_steps: maxSteps, format: "binary" }, "application/octet-stream");
    return decodeMatrix(await res.arrayBuffer());
  }
  statSeries(runId: string, layer: string, kind: string, maxPoints?: number): Promise<StatSeries> {
    return this.get(this.runPath(runId, "/stats/series"), { layer, kind, max_points: maxPoints });
  }
  histograms(runId: string, layer: string, kind: string, maxSteps?: number): Promise<HistogramSeries> {
    return this.get(this.runPath(runId, "/histograms"), { layer, kind, max_steps: maxSteps });
  }
  graph(runId: string): Promise<GraphData> {
    return this.get(this.runPath(runId, "/graph"));
  }
  findings(runId: string): Promise<FindingsResult> {
    return this.get(this.runPath(runId, "/findings"));
  }
  artifacts(runId: string): Promise<ArtifactInfo[]> {
    return this.get(this.runPath(runId, "/artifacts"));
  }
  artifact(runId: string, artifactId: number): Promise<Artifact> {
    return this.get(this.runPath(runId, `/artifacts/${artifactId}`));
  }
  transformerInfo(runId: string): Promise<TransformerInfo> {
    return this.get(this.runPath(runId, "/transformer"));
  }
  headMatrix(runId: string, field: string, maxSteps?: number): Promise<HeadMatrix> {
    return this.get(this.runPath(runId, "/transformer/heads"), { field, max_steps: maxSteps });
  }
  blockMatrix(runId: string, field: string, maxSteps?: number): Promise<StatMatrix> {
    return this.get(this.runPath(runId, "/transformer/blocks"), { field, max_steps: maxSteps });
  }
  outputSeries(runId: string, maxPoints?: number): Promise<OutputSeries> {
    return this.get(this.runPath(runId, "/transformer/output"), { max_points: maxPoints });
  }
  attentionPattern(runId: string, module: string, head: number, step?: number): Promise<AttentionPattern> {
    return this.get(this.runPath(runId, "/transformer/pattern"), { module, head, step });
  }
  blobUrl(runId: string, artifactId: number, key: string): string {
    return this.url(this.runPath(runId, `/artifacts/${artifactId}/blobs/${encodeURIComponent(key)}`), {}, true);
  }

  subscribe(h: LiveHandlers): () => void {
    if (typeof EventSource === "undefined") return () => undefined;
    const source = new EventSource(this.url("/api/events", {}, true));
    const on = <T>(event: string, fn: ((data: T) => void) | undefined): void => {
      if (!fn) return;
      source.addEventListener(event, (ev) => {
        let data: T;
        try {
          data = JSON.parse((ev as MessageEvent<string>).data) as T;
        } catch {
          return; // a malformed event is ignored; the next one carries the state again
        }
        fn(data);
      });
    };
    on("versions", (v) => h.versions(v as Parameters<LiveHandlers["versions"]>[0]));
    on("findings", h.findings);
    source.addEventListener("open", () => h.state?.(true));
    source.addEventListener("error", () => h.state?.(source.readyState === EventSource.OPEN));
    return () => source.close();
  }
}
