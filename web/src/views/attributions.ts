// Attributions: a gallery per stored attribution artifact. Images: input with the heat map laid
// over it (opacity slider); tabular rows: per-feature bars; token sequences: highlighted tokens.
import type { Artifact, ArtifactInfo } from "../api";
import { BASE, createChart } from "../charts/echarts";
import { append, checkbox, clear, el, select, slider, toolbar } from "../dom";
import { viridis } from "../lib/colors";
import { diverging } from "../lib/heatScale";
import { artifactLabel, artifactsOf, blobImage, fmt, gallery, numberList, signedColor, stringList } from "./explainShared";
import type { ViewContext, ViewModule } from "./types";

interface Sample {
  index: number;
  target: number;
  predicted: number;
  label: number | null;
  probability: number;
  delta: number | null;
  map?: number[][];
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
  signed: boolean;
}

const HINT = "run.log_artifact(ds.explain.attribute(model, x, method=...))";
const SIZE = 96;

function asData(a: Artifact): AttributionData {
  const d = a.data as Record<string, unknown>;
  return {
    method: String(d.method ?? "?"),
    input_kind: (["image", "tabular", "tokens"].includes(String(d.input_kind)) ? d.input_kind : "image") as AttributionData["input_kind"],
    classes: stringList(d.classes),
    samples: Array.isArray(d.samples) ? (d.samples as Sample[]) : [],
    feature_names: Array.isArray(d.feature_names) ? stringList(d.feature_names) : null,
    layer: typeof d.layer === "string" ? d.layer : null,
    signed: d.signed !== false,
  };
}

function caption(d: AttributionData, s: Sample): string {
  const name = (i: number | null): string => (i === null ? "–" : (d.classes[i] ?? String(i)));
  const label = s.label === null ? "" : ` · true ${name(s.label)}`;
  return `#${s.index} target ${name(s.target)} (p ${fmt(s.probability, 2)}) · pred ${name(s.predicted)}${label}`;
}

/** Order in which methods are offered: fine-grained pixel attributions first, coarse Grad-CAM last. */
const METHOD_ORDER = ["integrated_gradients", "saliency", "smoothgrad", "gradient_shap", "occlusion", "grad_cam"];

/** The artifact shown first: the hash's choice, else the finest method stored (newest of it). */
export function preferredAttribution(infos: readonly ArtifactInfo[], want: number | null): ArtifactInfo | undefined {
  const asked = infos.find((a) => a.id === want);
  if (asked) return asked;
  const rank = (a: ArtifactInfo): number => {
    const i = METHOD_ORDER.findIndex((m) => a.name.includes(m));
    return i < 0 ? METHOD_ORDER.length : i;
  };
  return [...infos].sort((a, b) => rank(a) - rank(b) || b.id - a.id)[0];
}

function mapRange(map: number[][]): number {
  let m = 0;
  for (const row of map) for (const v of row) if (Number.isFinite(v)) m = Math.max(m, Math.abs(v));
  return m || 1;
}

/** The attribution map on a canvas: signed maps blue (−) / white / red (+), others 0 → max. */
function mapCanvas(map: number[][], signed: boolean, range: number): HTMLCanvasElement {
  const h = map.length;
  const w = map[0]?.length ?? 0;
  const c = el("canvas", { attrs: { width: Math.max(1, w), height: Math.max(1, h), "data-testid": "attribution-map" } });
  c.style.width = `${SIZE}px`;
  c.style.height = `${SIZE}px`;
  c.style.imageRendering = "pixelated";
  const g = c.getContext("2d");
  if (!g || !w) return c;
  const img = g.createImageData(w, h);
  map.forEach((row, i) => row.forEach((v, j) => {
    const t = signed ? 0.5 + 0.5 * (v / range) : Math.max(0, v) / range;
    const [r, gg, b] = signed ? diverging(t) : viridis(t);
    img.data.set([r, gg, b, 255], (i * w + j) * 4);
  }));
  g.putImageData(img, 0, 0);
  return c;
}

/** The colour scale with its sign: −max, 0, +max (or 0 .. max). */
function scaleBar(signed: boolean, range: number | null, label: string): HTMLElement {
  const bar = el("div", "attr-ramp");
  const stops = Array.from({ length: 9 }, (_, i) => {
    const [r, g, b] = signed ? diverging(i / 8) : viridis(i / 8);
    return `rgb(${r},${g},${b}) ${(i / 8) * 100}%`;
  });
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const top = range === null ? "max" : fmt(range, 3);
  const ticks = signed ? [`−${top}`, "0", `+${top}`] : ["0", top];
  return el("div", { class: "attr-scale", attrs: { "data-testid": "attribution-scale" } },
    el("span", "muted", label), bar, el("div", "attr-ticks", ...ticks.map((t) => el("span", null, t))),
    signed ? el("div", "muted", "red: raises the target class's score · blue: lowers it") : el("div", "muted", "magnitude only (no sign)"));
}

function imageGallery(ctx: ViewContext, info: ArtifactInfo, d: AttributionData, opacity: number, shared: boolean): { node: HTMLElement; setOpacity: (v: number) => void } {
  const g = gallery("attribution-gallery");
  const heats: HTMLImageElement[] = [];
  const maps = d.samples.map((s) => (Array.isArray(s.map) ? s.map : []));
  const all = Math.max(...maps.map(mapRange));
  for (const [k, s] of d.samples.entries()) {
    if (!s.input || !s.heatmap) continue;
    const range = shared ? all : mapRange(maps[k] ?? []);
    const frame = el("div", "overlay");
    frame.style.width = `${SIZE}px`;
    frame.style.height = `${SIZE}px`;
    const heat = blobImage(ctx, info.id, s.heatmap, SIZE, `attribution ${s.index} over the input`);
    heat.classList.add("overlay-top");
    heat.style.opacity = String(opacity);
    heats.push(heat);
    append(frame, blobImage(ctx, info.id, s.input, SIZE, `input ${s.index}`), heat);
    const trio = el("div", "attr-trio",
      el("div", null, blobImage(ctx, info.id, s.input, SIZE, `input ${s.index}`), el("span", "muted", "input")),
      el("div", null, mapCanvas(maps[k] ?? [], d.signed, range), el("span", "muted", shared ? "attribution" : `attribution (±${fmt(range, 2)})`)),
      el("div", null, frame, el("span", "muted", "overlay")));
    const card = el("figure", { attrs: { "data-testid": "attribution-item" }, title: s.delta === null ? undefined : `completeness error ${fmt(s.delta, 5)}` }, trio, el("figcaption", null, caption(d, s)));
    g.appendChild(card);
  }
  const box = el("div", null, scaleBar(d.signed, shared ? all : null, shared ? "one scale for every sample" : "each sample scaled to its own largest |attribution|"), g);
  return { node: box, setOpacity: (v) => heats.forEach((h) => (h.style.opacity = String(v))) };
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
    let current = preferredAttribution(infos, ctx.params.get("artifact") === null ? null : Number(ctx.params.get("artifact"))) as ArtifactInfo;
    let shared = ctx.params.get("scale") === "shared";
    let opacity = Number(ctx.params.get("opacity") ?? "0.6");
    if (!Number.isFinite(opacity)) opacity = 0.6;
    let setOpacity: ((v: number) => void) | undefined;
    const body = el("section", "card");
    const options = [...infos].sort((a, b) => (preferredAttribution([a, b], null) === a ? -1 : 1)).map((a) => ({ value: String(a.id), label: artifactLabel(a) }));
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
        checkbox("One scale for all samples", shared, (v) => {
          shared = v;
          ctx.setParams({ scale: v ? "shared" : null });
          void draw();
        }, "attribution-shared"),
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
        const g = imageGallery(ctx, current, d, opacity, shared);
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
