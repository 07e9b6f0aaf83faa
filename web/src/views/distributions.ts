import type { HistogramSeries, LayerInfo } from "../api";
import { isNotRecorded } from "../api";
import { createChart, type Chart } from "../charts/echarts";
import { drawDistributionHeatmap, drawRidgeline } from "../charts/histograms";
import { runColors, type ScalarRun } from "../charts/scalarChart";
import { drawStatBands, type BandRun } from "../charts/statBands";
import { append, clear, el, errorBox, notRecorded, select, toolbar } from "../dom";
import { layerPicker } from "./layerPicker";
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

/** One run's histogram panel (a chart card of its own, so compared runs sit side by side). */
class HistogramPanel {
  private readonly title = el("h3");
  private readonly message = el("div");
  private readonly host = el("div", { class: "tall", attrs: { "data-testid": "distribution-chart" } });
  readonly card: HTMLElement;
  private chart: Chart | undefined;

  constructor(private readonly ctx: ViewContext, private readonly run: ScalarRun, private readonly many: boolean) {
    this.card = el("div", "chart-card", this.title, this.message, this.host);
    this.host.dataset.runId = run.id;
  }

  async draw(layer: string, kind: string, mode: string): Promise<void> {
    clear(this.title);
    append(this.title, this.many ? `${this.run.name}: ` : "", `${kind} of `, el("code", "layer-name", layer));
    let h: HistogramSeries;
    try {
      h = await this.ctx.api.histograms(this.run.id, layer, kind, MAX_STEPS);
    } catch (err) {
      if (this.ctx.signal.aborted) return;
      clear(this.message);
      this.host.hidden = true;
      append(this.message, isNotRecorded(err) ? notRecorded(`${kind} histograms of ${layer}`, distributionsView.hint) : errorBox((err as Error).message));
      return;
    }
    if (this.ctx.signal.aborted) return;
    clear(this.message);
    this.host.hidden = false;
    this.chart ??= createChart(this.host, this.ctx.onDispose);
    this.chart.resize();
    if (mode === "heatmap") drawDistributionHeatmap(this.chart, h);
    else drawRidgeline(this.chart, h);
  }
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
    const runs = runColors(ctx.runIds, new Map(ctx.runs.map((r) => [r.id, r.name])));
    const many = runs.length > 1;
    const panels = runs.map((r) => new HistogramPanel(ctx, r, many));
    const statsHost = el("div", { attrs: { "data-testid": "stat-bands" } });
    const statsMsg = el("div");
    const statsTitle = many ? "Mean ± std, min and max over steps, every compared run" : "Mean ± std, min and max over steps";
    const stats = el("section", "card", el("h3", null, statsTitle), statsMsg, statsHost);
    append(
      container,
      toolbar(
        layerPicker("Layer", names, layer, (v) => { layer = v; ctx.setParams({ layer: v }); void both(); }, "dist-layer"),
        select("Of", kinds.map((k) => ({ value: k, label: k })), kind, (v) => { kind = v; ctx.setParams({ kind: v }); void both(); }, "dist-kind"),
        select("Show", [{ value: "ridgeline", label: "Histograms (ridgeline)" }, { value: "heatmap", label: "Distribution (heatmap)" }], mode, (v) => { mode = v; ctx.setParams({ mode: v }); void draw(); }, "dist-mode"),
      ),
      el("div", many ? "chart-grid" : "", ...panels.map((p) => p.card)),
      stats,
    );
    const draw = async (): Promise<void> => void (await Promise.all(panels.map((p) => p.draw(layer, kind, mode))));
    let bands: Chart | undefined;
    async function drawStats(): Promise<void> {
      clear(statsMsg);
      const got = await Promise.all(runs.map(async (run): Promise<BandRun | null> => {
        try {
          return { name: run.name, color: run.color, series: await ctx.api.statSeries(run.id, layer, kind, 2000) };
        } catch (err) {
          if (!isNotRecorded(err)) throw err;
          return null;
        }
      })).catch((err: Error) => err);
      if (ctx.signal.aborted) return;
      const found = got instanceof Error ? [] : got.filter((b): b is BandRun => b !== null);
      if (!found.length) {
        statsHost.hidden = true;
        statsMsg.appendChild(got instanceof Error ? errorBox(got.message) : notRecorded(`${kind} statistics of ${layer}`, "run.watch(model)"));
        return;
      }
      statsHost.hidden = false;
      bands ??= createChart(statsHost, ctx.onDispose);
      bands.resize();
      drawStatBands(bands, found);
      const missing = runs.filter((r) => !found.some((b) => b.name === r.name)).map((r) => r.name);
      if (missing.length) statsMsg.appendChild(el("p", "muted", `not recorded in ${missing.join(", ")}`));
    }
    const both = async (): Promise<void> => void (await Promise.all([draw(), drawStats()]));
    await both();
    return { refresh: both };
  },
};
