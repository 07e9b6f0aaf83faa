// Weights: conv filter grids and weight-matrix heat maps per layer, the eigenvalue spectrum with
// its power-law fit, and a table of alpha / fit quality / stable rank for every layer.
import type { Artifact } from "../api";
import { BASE, createChart, type Chart } from "../charts/echarts";
import { append, clear, el, select, toolbar } from "../dom";
import { artifactSelect, artifactsOf, blobImage, chosen, fmt, numberList } from "./explainShared";
import type { ViewModule } from "./types";

interface LayerEntry {
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

const HINT = "run.log_artifact(ds.explain.weights(model))";
const QUALITY_COLOR: Record<string, string> = { well_trained: "#2ca02c", under_trained: "#ff7f0e", over_fit: "#d62728", random_like: "#8c564b", no_power_law: "#777", too_small: "#999", unknown: "#777" };
const QUALITY_TEXT: Record<string, string> = { too_small: "too small to judge", random_like: "random-like", no_power_law: "no power-law tail" };

function layersOf(a: Artifact): LayerEntry[] {
  const layers = (a.data as Record<string, unknown>).layers;
  return Array.isArray(layers) ? (layers as LayerEntry[]) : [];
}

/** Eigenvalues (descending) and the share of eigenvalues >= each: the log-log survival curve. */
export function survival(e: LayerEntry): [number, number][] {
  const n = Math.max(e.shape[0] ?? 1, e.shape.slice(1).reduce((a, b) => a * b, 1));
  const eig = numberList(e.singular_values).map((s) => (s * s) / n).filter((v) => v > 0).sort((a, b) => b - a);
  return eig.map((v, i) => [v, (i + 1) / eig.length]);
}

function spectrumChart(chart: Chart, e: LayerEntry): void {
  const pts = survival(e);
  const series: Record<string, unknown>[] = [{ type: "scatter", name: "eigenvalues", symbolSize: 5, data: pts }];
  if (e.alpha !== null && e.alpha_xmin && pts.length) {
    const xmin = e.alpha_xmin, top = pts[0]?.[0] ?? xmin, frac = e.alpha_n_tail / pts.length;
    const xs = Array.from({ length: 20 }, (_, k) => xmin * Math.pow(top / xmin, k / 19));
    series.push({ type: "line", name: `power law, alpha ${fmt(e.alpha, 2)}`, symbol: "none", data: xs.map((x) => [x, frac * Math.pow(x / xmin, 1 - (e.alpha as number))]) });
  }
  chart.setOption({
    ...BASE,
    legend: { top: 0 },
    grid: { left: 8, right: 16, top: 32, bottom: 36, containLabel: true },
    tooltip: { renderMode: "richText" },
    xAxis: { type: "log", name: "eigenvalue of WᵀW/N", nameLocation: "middle", nameGap: 24 },
    yAxis: { type: "log", name: "share ≥ x" },
    series,
  }, { notMerge: true });
}

function table(layers: LayerEntry[], onPick: (name: string) => void): HTMLTableElement {
  const head = el("thead", null, el("tr", null, ...["layer", "type", "shape", "alpha", "KS", "λmax / random edge", "quality", "stable rank"].map((h) => el("th", null, h))));
  const body = el("tbody");
  for (const e of layers) {
    const q = el("span", { attrs: { "data-testid": "weights-quality", "data-quality": e.quality }, title: e.quality_reason ?? undefined }, QUALITY_TEXT[e.quality] ?? e.quality.replace("_", " "));
    q.style.color = QUALITY_COLOR[e.quality] ?? "#777";
    const tr = el("tr", { on: { click: () => onPick(e.name) } }, el("td", null, el("code", "layer-name", e.name)), el("td", null, e.type), el("td", null, e.shape.join("×")), el("td", null, fmt(e.alpha, 2)), el("td", null, fmt(e.alpha_ks, 3)), el("td", null, fmt(e.mp_edge_ratio, 2)), el("td", null, q), el("td", null, fmt(e.stable_rank, 2)));
    tr.style.cursor = "pointer";
    body.appendChild(tr);
  }
  return el("table", { class: "table", attrs: { "data-testid": "weights-table" } }, head, body);
}

export const weightsView: ViewModule = {
  id: "weights",
  title: "Weights",
  requires: [{ what: "artifacts", kinds: ["weights"] }],
  hint: HINT,
  async render(container, ctx) {
    const infos = await artifactsOf(ctx, "weights", HINT);
    let current = chosen(ctx, infos);
    const bar = toolbar();
    const body = el("div");
    append(container, bar, body);
    async function draw(): Promise<void> {
      const art = await ctx.api.artifact(ctx.runId, current.id);
      if (ctx.signal.aborted) return;
      const layers = layersOf(art);
      let layer = layers.find((l) => l.name === ctx.params.get("layer")) ?? layers.find((l) => l.image_kind === "filters") ?? layers[0];
      clear(bar);
      clear(body);
      if (!layer) {
        body.appendChild(el("p", null, "No weight matrices in this artifact."));
        return;
      }
      const picture = el("div", { attrs: { "data-testid": "weights-image" } });
      const title = el("h3");
      const specHost = el("div", { attrs: { "data-testid": "weights-spectrum" } });
      append(bar,
        artifactSelect(ctx, "Weights", infos, current, (a) => { current = a; void draw(); }, "weights-artifact"),
        select("Layer", layers.map((l) => ({ value: l.name, label: l.name })), layer.name, (v) => pick(v), "weights-layer"));
      append(body,
        el("div", "chart-grid", el("div", "chart-card", title, picture), el("div", "chart-card", el("h3", null, "Spectrum"), specHost)),
        el("section", "card", el("h3", null, "All layers (alpha in [2, 6]: well trained; > 6: under-trained; < 2: over-fit; judged only with ≥ 50 eigenvalues, a ≥ 20-eigenvalue tail, a spectrum beyond the random-matrix edge and a good KS fit — hover a label for why)"), table(layers, (n) => pick(n))));
      const spec = createChart(specHost, ctx.onDispose);
      function pick(name: string): void {
        const e = layers.find((l) => l.name === name);
        if (!e) return;
        layer = e;
        ctx.setParams({ layer: name });
        clear(title);
        append(title, el("code", "layer-name", e.name), ` ${e.type} ${e.shape.join("×")} · ${e.image_kind === "filters" ? "filters (row: output, column: input channel; one-input layers tiled)" : "weight matrix (red +, blue −)"}`);
        clear(picture);
        const img = blobImage(ctx, current.id, e.image, 320, `${e.name} weights`);
        img.removeAttribute("width");
        img.removeAttribute("height");
        // Scale by a whole factor so every weight stays a crisp square, within 480 x 480.
        const fit = (): void => {
          const k = Math.max(1, Math.floor(480 / Math.max(img.naturalWidth, img.naturalHeight, 1)));
          img.style.width = `${img.naturalWidth * k}px`;
          img.style.height = `${img.naturalHeight * k}px`;
          img.style.maxWidth = "100%";
        };
        if (img.complete) fit();
        else img.addEventListener("load", fit, { once: true });
        picture.appendChild(img);
        spectrumChart(spec, e);
      }
      pick(layer.name);
    }
    await draw();
  },
};
