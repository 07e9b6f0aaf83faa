import type { HistogramSeries, LayerInfo } from "../api";
import { isNotRecorded } from "../api";
import { createChart, type Chart } from "../charts/echarts";
import { drawDistributionHeatmap, drawRidgeline } from "../charts/histograms";
import { drawStatBands } from "../charts/statBands";
import { append, clear, el, errorBox, notRecorded, select, toolbar } from "../dom";
import type { ViewContext, ViewModule } from "./types";

const KINDS = ["weight", "grad", "activation", "update", "activation_grad", "input"];
const ROOT = "<root>";
const MAX_STEPS = 200;

async function layerNames(ctx: ViewContext): Promise<string[]> {
  const layers: LayerInfo[] = await ctx.api.layers(ctx.runId).catch(() => []);
  const names = layers.map((l) => l.name);
  if (!names.includes(ROOT)) names.push(ROOT);
  return names;
}

export const distributionsView: ViewModule = {
  id: "distributions",
  title: "Distributions",
  requires: [{ what: "stats", kinds: KINDS }, { what: "histograms" }],
  hint: "run.watch(model, histograms=True)",
  async render(container, ctx) {
    const kinds = KINDS.filter((k) => ctx.run.kinds.includes(k));
    const names = await layerNames(ctx);
    let kind = kinds.includes(ctx.params.get("kind") ?? "") ? (ctx.params.get("kind") as string) : (kinds[0] as string);
    let layer = names.includes(ctx.params.get("layer") ?? "") ? (ctx.params.get("layer") as string) : (names.find((n) => n !== ROOT) ?? ROOT);
    let mode = ctx.params.get("mode") === "heatmap" ? "heatmap" : "ridgeline";
    const body = el("section", "card");
    const statsHost = el("div", { attrs: { "data-testid": "stat-bands" } });
    const statsMsg = el("div");
    const stats = el("section", "card", el("h3", null, "Mean ± std, min and max over steps"), statsMsg, statsHost);
    append(
      container,
      toolbar(
        select("Layer", names.map((n) => ({ value: n, label: n })), layer, (v) => { layer = v; ctx.setParams({ layer: v }); void both(); }, "dist-layer"),
        select("Of", kinds.map((k) => ({ value: k, label: k })), kind, (v) => { kind = v; ctx.setParams({ kind: v }); void both(); }, "dist-kind"),
        select("Show", [{ value: "ridgeline", label: "Histograms (ridgeline)" }, { value: "heatmap", label: "Distribution (heatmap)" }], mode, (v) => { mode = v; ctx.setParams({ mode: v }); void draw(); }, "dist-mode"),
      ),
      body,
      stats,
    );
    const title = el("h3");
    const message = el("div");
    const host = el("div", { class: "tall", attrs: { "data-testid": "distribution-chart" } });
    append(body, title, message, host);
    let chart: Chart | undefined;
    async function draw(): Promise<void> {
      clear(title);
      append(title, `${kind} of `, el("code", "layer-name", layer));
      let h: HistogramSeries;
      try {
        h = await ctx.api.histograms(ctx.runId, layer, kind, MAX_STEPS);
      } catch (err) {
        if (ctx.signal.aborted) return;
        clear(message);
        host.hidden = true;
        append(message, isNotRecorded(err) ? notRecorded(`${kind} histograms of ${layer}`, distributionsView.hint) : errorBox((err as Error).message));
        return;
      }
      if (ctx.signal.aborted) return;
      clear(message);
      host.hidden = false;
      chart ??= createChart(host, ctx.onDispose);
      chart.resize();
      if (mode === "heatmap") drawDistributionHeatmap(chart, h);
      else drawRidgeline(chart, h);
    }
    let bands: Chart | undefined;
    async function drawStats(): Promise<void> {
      clear(statsMsg);
      try {
        const series = await ctx.api.statSeries(ctx.runId, layer, kind, 2000);
        if (ctx.signal.aborted) return;
        statsHost.hidden = false;
        bands ??= createChart(statsHost, ctx.onDispose);
        bands.resize();
        drawStatBands(bands, series);
      } catch (err) {
        if (ctx.signal.aborted) return;
        statsHost.hidden = true;
        statsMsg.appendChild(isNotRecorded(err) ? notRecorded(`${kind} statistics of ${layer}`, "run.watch(model)") : errorBox((err as Error).message));
      }
    }
    const both = async (): Promise<void> => void (await Promise.all([draw(), drawStats()]));
    await both();
    return { refresh: both };
  },
};
