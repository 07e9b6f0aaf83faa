// Attributions: a gallery per stored attribution artifact. Images: input with the heat map laid
// over it (opacity slider); tabular rows: per-feature bars; token sequences: highlighted tokens.
import type { Artifact, ArtifactInfo } from "../api";
import { BASE, createChart } from "../charts/echarts";
import { append, clear, el, select, slider, toolbar } from "../dom";
import { artifactLabel, artifactsOf, blobImage, chosen, fmt, gallery, numberList, signedColor, stringList } from "./explainShared";
import type { ViewContext, ViewModule } from "./types";

interface Sample {
  index: number;
  target: number;
  predicted: number;
  label: number | null;
  probability: number;
  delta: number | null;
  input?: string;
  heatmap?: string;
  values?: number[];
  inputs?: number[];
  tokens?: string[];
  scores?: number[];
}

interface AttributionData {
  method: string;
  input_kind: "image" | "tabular" | "tokens";
  classes: string[];
  samples: Sample[];
  feature_names: string[] | null;
  layer: string | null;
}

const HINT = "run.log_artifact(ds.explain.attribute(model, x, method=...))";
const SIZE = 112;

function asData(a: Artifact): AttributionData {
  const d = a.data as Record<string, unknown>;
  return {
    method: String(d.method ?? "?"),
    input_kind: (["image", "tabular", "tokens"].includes(String(d.input_kind)) ? d.input_kind : "image") as AttributionData["input_kind"],
    classes: stringList(d.classes),
    samples: Array.isArray(d.samples) ? (d.samples as Sample[]) : [],
    feature_names: Array.isArray(d.feature_names) ? stringList(d.feature_names) : null,
    layer: typeof d.layer === "string" ? d.layer : null,
  };
}

function caption(d: AttributionData, s: Sample): string {
  const name = (i: number | null): string => (i === null ? "–" : (d.classes[i] ?? String(i)));
  const label = s.label === null ? "" : ` · true ${name(s.label)}`;
  return `#${s.index} target ${name(s.target)} (p ${fmt(s.probability, 2)}) · pred ${name(s.predicted)}${label}`;
}

function imageGallery(ctx: ViewContext, info: ArtifactInfo, d: AttributionData, opacity: number): { node: HTMLElement; setOpacity: (v: number) => void } {
  const g = gallery("attribution-gallery");
  const heats: HTMLImageElement[] = [];
  for (const s of d.samples) {
    if (!s.input || !s.heatmap) continue;
    const frame = el("div");
    frame.style.position = "relative";
    frame.style.width = `${SIZE}px`;
    frame.style.height = `${SIZE}px`;
    const base = blobImage(ctx, info.id, s.input, SIZE, `input ${s.index}`);
    const heat = blobImage(ctx, info.id, s.heatmap, SIZE, `attribution ${s.index}`);
    heat.style.position = "absolute";
    heat.style.left = "0";
    heat.style.top = "0";
    heat.style.opacity = String(opacity);
    heats.push(heat);
    append(frame, base, heat);
    const card = el("figure", { attrs: { "data-testid": "attribution-item" }, title: s.delta === null ? undefined : `completeness error ${fmt(s.delta, 5)}` }, frame, el("figcaption", null, caption(d, s)));
    card.style.margin = "0";
    card.style.width = `${SIZE + 20}px`;
    card.style.fontSize = "11px";
    g.appendChild(card);
  }
  return { node: g, setOpacity: (v) => heats.forEach((h) => (h.style.opacity = String(v))) };
}

function tabular(ctx: ViewContext, d: AttributionData, host: HTMLElement): void {
  const names = d.feature_names ?? [];
  let index = -1;
  const chartHost = el("div", { attrs: { "data-testid": "attribution-bars" } });
  const options = [{ value: "-1", label: "mean |attribution|" }, ...d.samples.map((s, i) => ({ value: String(i), label: caption(d, s) }))];
  append(host, toolbar(select("Sample", options, "-1", (v) => { index = Number(v); draw(); }, "attribution-sample")), chartHost);
  chartHost.style.height = `${Math.min(640, 80 + 18 * Math.min(names.length, 30))}px`;
  const chart = createChart(chartHost, ctx.onDispose);
  function draw(): void {
    const rows = d.samples.map((s) => numberList(s.values));
    const shown = index < 0
      ? names.map((_, j) => rows.reduce((acc, r) => acc + Math.abs(r[j] ?? 0), 0) / Math.max(1, rows.length))
      : (rows[index] ?? []);
    const order = shown.map((v, j) => [Math.abs(v), j] as const).sort((a, b) => b[0] - a[0]).slice(0, 30).map(([, j]) => j).reverse();
    chart.setOption({
      ...BASE,
      grid: { left: 8, right: 24, top: 8, bottom: 24, containLabel: true },
      tooltip: { renderMode: "richText" },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: order.map((j) => names[j] ?? String(j)), axisLabel: { width: 200, overflow: "truncate" } },
      series: [{ type: "bar", data: order.map((j) => ({ value: shown[j] ?? 0, itemStyle: { color: (shown[j] ?? 0) >= 0 ? "#d62728" : "#1f77b4" } })) }],
    }, { notMerge: true });
  }
  draw();
}

function tokens(d: AttributionData, host: HTMLElement): void {
  const list = el("div", { attrs: { "data-testid": "attribution-tokens" } });
  for (const s of d.samples) {
    const scores = numberList(s.scores);
    const scale = Math.max(1e-12, ...scores.map((v) => Math.abs(v)).filter(Number.isFinite));
    const line = el("p", null, el("span", null, `${caption(d, s)}: `));
    (s.tokens ?? []).forEach((tok, i) => {
      const span = el("span", { title: `score ${fmt(scores[i], 4)}` }, tok);
      span.style.background = signedColor((scores[i] ?? 0) / scale);
      span.style.padding = "1px 3px";
      span.style.margin = "0 2px";
      span.style.borderRadius = "3px";
      line.appendChild(span);
    });
    list.appendChild(line);
  }
  host.appendChild(list);
}

export const attributionsView: ViewModule = {
  id: "attributions",
  title: "Attributions",
  requires: [{ what: "artifacts", kinds: ["attributions"] }],
  hint: HINT,
  async render(container, ctx) {
    const infos = await artifactsOf(ctx, "attributions", HINT);
    let current = chosen(ctx, infos);
    let opacity = Number(ctx.params.get("opacity") ?? "0.6");
    if (!Number.isFinite(opacity)) opacity = 0.6;
    let setOpacity: ((v: number) => void) | undefined;
    const body = el("section", "card");
    const options = infos.map((a) => ({ value: String(a.id), label: artifactLabel(a) }));
    append(
      container,
      toolbar(
        select("Method", options, String(current.id), (v) => {
          current = infos.find((a) => String(a.id) === v) ?? current;
          ctx.setParams({ artifact: current.id });
          void draw();
        }, "attribution-method"),
        slider("Overlay opacity", { min: 0, max: 1, step: 0.05, value: opacity }, (v) => {
          opacity = v;
          ctx.setParams({ opacity: v });
          setOpacity?.(v);
        }, (v) => v.toFixed(2), "attribution-opacity"),
      ),
      body,
    );
    async function draw(): Promise<void> {
      const art = await ctx.api.artifact(ctx.runId, current.id);
      if (ctx.signal.aborted) return;
      const d = asData(art);
      clear(body);
      const layer = d.layer ? ` at ${d.layer}` : "";
      append(body, el("h3", null, `${d.method}${layer} · ${d.samples.length} ${d.input_kind} samples`));
      setOpacity = undefined;
      if (d.input_kind === "image") {
        const g = imageGallery(ctx, current, d, opacity);
        setOpacity = g.setOpacity;
        body.appendChild(g.node);
      } else if (d.input_kind === "tabular") {
        tabular(ctx, d, body);
      } else {
        tokens(d, body);
      }
    }
    await draw();
  },
};
