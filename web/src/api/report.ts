import type { Api, LiveHandlers, ScalarQuery } from "./api";
import { NotRecordedError } from "./errors";
import { minmaxIndices, pick } from "../lib/downsample";
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
  ReportPayload,
  RunDetail,
  RunSummary,
  ScalarSeries,
  StatMatrix,
  StatSeries,
  TransformerInfo,
  TransformerPayload,
} from "./types";

const NOT_IN_REPORT = "not recorded in this report";

function need<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new NotRecordedError(`${what}: ${NOT_IN_REPORT}`);
  return value;
}

/** Answers every call from the payload embedded in a report file; never touches the network. */
export class ReportApi implements Api {
  readonly mode = "report" as const;

  constructor(private readonly p: ReportPayload) {}

  private detail(runId: string): RunDetail {
    return need(this.p.runs.find((r) => r.id === runId), `run ${runId}`);
  }

  async runs(): Promise<RunSummary[]> {
    return this.p.runs;
  }
  async run(runId: string): Promise<RunDetail> {
    return this.detail(runId);
  }
  async scalarTags(runId: string): Promise<string[]> {
    this.detail(runId);
    return Object.keys(this.p.scalars?.[runId] ?? {}).sort();
  }
  async scalars(runId: string, tag: string, q: ScalarQuery = {}): Promise<ScalarSeries> {
    const s = need(this.p.scalars?.[runId]?.[tag], `scalar ${tag}`);
    let idx = s.steps.map((_, i) => i);
    if (q.start !== undefined || q.end !== undefined) {
      const lo = q.start ?? -Infinity;
      const hi = q.end ?? Infinity;
      idx = idx.filter((i) => (s.steps[i] as number) >= lo && (s.steps[i] as number) <= hi);
    }
    const values = pick(s.values, idx);
    const keep = q.maxPoints ? minmaxIndices(values, q.maxPoints) : values.map((_, i) => i);
    const sel = keep.map((k) => idx[k] as number);
    return {
      tag,
      steps: pick(s.steps, sel),
      values: pick(s.values, sel),
      walls: pick(s.walls, sel),
      total_points: s.total_points,
      downsampled: s.downsampled || sel.length < s.steps.length,
    };
  }
  async layers(runId: string): Promise<LayerInfo[]> {
    return need(this.p.layers?.[runId], "layers");
  }
  async statMatrix(runId: string, kind: string, field: string): Promise<StatMatrix> {
    return need(this.p.stats?.[runId]?.[`${kind}/${field}`], `${kind} ${field}`);
  }
  async statSeries(runId: string, layer: string, kind: string): Promise<StatSeries> {
    // Rebuilt from the embedded matrices: one row per field of this kind.
    const fields: Record<string, (number | null)[]> = {};
    let steps: number[] | null = null;
    for (const [key, m] of Object.entries(this.p.stats?.[runId] ?? {})) {
      const slash = key.indexOf("/");
      if (key.slice(0, slash) !== kind) continue;
      const row = m.layers.indexOf(layer);
      if (row < 0) continue;
      fields[key.slice(slash + 1)] = m.values[row] ?? [];
      steps ??= m.steps;
    }
    return { layer, kind, steps: need(steps, `${kind} statistics of ${layer}`), fields };
  }
  async histograms(runId: string, layer: string, kind: string): Promise<HistogramSeries> {
    return need(this.p.histograms?.[runId]?.[`${kind}/${layer}`], `${kind} histograms of ${layer}`);
  }
  async graph(runId: string): Promise<GraphData> {
    return need(this.p.graph?.[runId], "graph");
  }
  async findings(runId: string): Promise<FindingsResult> {
    return this.p.findings?.[runId] ?? { ok: true, findings: [] };
  }
  async artifacts(runId: string): Promise<ArtifactInfo[]> {
    return (this.p.artifacts?.[runId] ?? []).map((a) => a.info);
  }
  async artifact(runId: string, artifactId: number): Promise<Artifact> {
    const a = need(this.p.artifacts?.[runId]?.find((x) => x.info.id === artifactId), `artifact ${artifactId}`);
    return { info: a.info, data: a.data };
  }
  private transformer(runId: string): TransformerPayload {
    return need(this.p.transformer?.[runId], "transformer statistics");
  }
  async transformerInfo(runId: string): Promise<TransformerInfo> {
    return this.transformer(runId).info;
  }
  async headMatrix(runId: string, field: string): Promise<HeadMatrix> {
    return need(this.transformer(runId).heads?.[field], `head ${field}`);
  }
  async blockMatrix(runId: string, field: string): Promise<StatMatrix> {
    return need(this.transformer(runId).blocks?.[field], `block ${field}`);
  }
  async outputSeries(runId: string): Promise<OutputSeries> {
    return need(this.transformer(runId).output, "output logits");
  }
  async attentionPattern(runId: string, module: string, head: number, step?: number): Promise<AttentionPattern> {
    const all = need(this.transformer(runId).patterns?.[module]?.[String(head)], `attention pattern of ${module}`);
    const want = step ?? Infinity;
    // The embedded step nearest the asked one (the latest when none is asked), as the server does.
    let best = all[all.length - 1] as AttentionPattern;
    for (const p of all) if (Math.abs(p.step - want) < Math.abs(best.step - want) || (step !== undefined && Math.abs(p.step - want) === Math.abs(best.step - want) && p.step < best.step)) best = p;
    return { ...best, steps: all.map((p) => p.step) };
  }
  blobUrl(runId: string, artifactId: number, key: string): string {
    const a = this.p.artifacts?.[runId]?.find((x) => x.info.id === artifactId);
    const uri = a?.blobs?.[key] ?? "";
    // Only data: URIs are allowed from a payload, so a crafted report cannot make the page fetch.
    return uri.startsWith("data:") ? uri : "";
  }
  subscribe(h: LiveHandlers): () => void {
    h.state?.(false);
    return () => undefined;
  }
}
