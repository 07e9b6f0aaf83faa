// Weights: conv filter grids and weight-matrix heat maps per layer, the eigenvalue spectrum with
// its power-law fit, and a table of alpha / fit quality / stable rank for every layer; compared
// runs' spectra and verdicts beside them (weightsCompare.ts).
import { BASE, createChart, type Chart } from "../charts/echarts";
import { append, clear, el, select, toolbar } from "../dom";
import { artifactSelect, artifactsOf, blobImage, chosen, fmt } from "./explainShared";
import type { ViewModule } from "./types";
import { layersOf, QUALITY_COLOR, QUALITY_TEXT, survival, type LayerEntry } from "./weightData";
import { compareTable, weightSides, type WeightSide } from "./weightsCompare";

const HINT = "run.log_artifact(ds.explain.weights(model))";

/** The survival curve of `e` and its power-law fit, in `color`, named after `run` when given. */
function spectrumSeries(e: LayerEntry, color: string | undefined, run: string | null): Record<string, unknown>[] {
  const pts = survival(e);
  const label = (what: string): string => (run === null ? what : `${run}: ${what}`);
  const series: Record<string, unknown>[] = [{ type: "scatter", name: run ?? "eigenvalues", symbolSize: 5, data: pts, itemStyle: color ? { color } : undefined }];
  if (e.alpha !== null && e.alpha_xmin && pts.length) {
    const xmin = e.alpha_xmin, top = pts[0]?.[0] ?? xmin, frac = e.alpha_n_tail / pts.length;
    const xs = Array.from({ length: 20 }, (_, k) => xmin * Math.pow(top / xmin, k / 19));
    series.push({ type: "line", name: label(`power law, alpha ${fmt(e.alpha, 2)}`), symbol: "none", lineStyle: color ? { color, type: "dashed" } : undefined, itemStyle: color ? { color } : undefined, data: xs.map((x) => [x, frac * Math.pow(x / xmin, 1 - (e.alpha as number))]) });
  }
  return series;
}

/** The chosen layer's spectrum; with compared runs, the same layer of each in its run's colour. */
function spectrumChart(chart: Chart, e: LayerEntry, sides: readonly WeightSide[]): void {
  const others = sides.slice(1).map((s) => ({ s, l: s.layers?.find((x) => x.name === e.name) })).filter((o): o is { s: WeightSide; l: LayerEntry } => o.l !== undefined);
  const series = others.length
    ? [...spectrumSeries(e, sides[0]?.color, sides[0]?.name ?? null), ...others.flatMap((o) => spectrumSeries(o.l, o.s.color, o.s.name))]
    : spectrumSeries(e, undefined, null);
  // Compared: the legend names the runs (each run's fit is its dashed line, named in the tooltip).
  const legend = others.length ? { top: 0, type: "scroll", data: [sides[0]?.name, ...others.map((o) => o.s.name)] } : { top: 0 };
  chart.setOption({
    ...BASE,
    legend,
    grid: { left: 8, right: 16, top: others.length ? 52 : 32, bottom: 36, containLabel: true },
    tooltip: { renderMode: "richText", formatter: (p: { seriesName: string; value: [number, number] }) => `${p.seriesName}\neigenvalue ${fmt(p.value[0], 4)}, share ≥ ${fmt(p.value[1], 3)}` },
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
      const sides = await weightSides(ctx, layers);
      if (ctx.signal.aborted) return;
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
        sides.length > 1 ? compareTable(sides, (n) => pick(n)) : null,
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
        spectrumChart(spec, e, sides);
      }
      pick(layer.name);
    }
    await draw();
  },
};
