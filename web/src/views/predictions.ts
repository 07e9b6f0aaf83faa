// Predictions: confusion matrix, per-class precision/recall, reliability diagram with the ECE,
// the most confident mistakes and class-probability bars for a chosen sample; compared runs'
// accuracy and per-class recall beside them (predictionsCompare.ts).
import { BASE, createChart, RAMP, type Chart } from "../charts/echarts";
import { append, clear, el, toolbar } from "../dom";
import { artifactSelect, artifactsOf, blobImage, chosen, fmt, gallery } from "./explainShared";
import { asData, type PredictionData } from "./predictionData";
import { comparePredictions } from "./predictionsCompare";
import type { ViewContext, ViewModule } from "./types";

const HINT = "run.log_artifact(ds.explain.predictions(model, X_val, y_val))";

function confusionChart(chart: Chart, d: PredictionData): void {
  const cells: [number, number, number][] = [];
  d.confusion.forEach((row, i) => row.forEach((v, j) => cells.push([j, i, v])));
  const max = Math.max(1, ...cells.map((c) => c[2]));
  chart.setOption({
    ...BASE,
    grid: { left: 8, right: 70, top: 8, bottom: 36, containLabel: true },
    tooltip: { renderMode: "richText", formatter: (p: { value: [number, number, number] }) => `true ${d.classes[p.value[1]] ?? ""} → predicted ${d.classes[p.value[0]] ?? ""}: ${p.value[2]}` },
    xAxis: { type: "category", data: d.classes, name: "predicted", nameLocation: "middle", nameGap: 24 },
    yAxis: { type: "category", data: d.classes, name: "true", inverse: true },
    visualMap: { min: 0, max, calculable: false, orient: "vertical", right: 0, top: "center", inRange: { color: ["#f7fbff", "#6baed6", "#08306b"] } },
    series: [{ type: "heatmap", data: cells, label: { show: d.classes.length <= 20, fontSize: 10, formatter: (p: { value: [number, number, number] }) => (p.value[2] ? String(p.value[2]) : "") } }],
  }, { notMerge: true });
}

function calibrationChart(chart: Chart, d: PredictionData): void {
  const mids = d.edges.slice(0, -1).map((e, i) => (e + (d.edges[i + 1] ?? e)) / 2);
  chart.setOption({
    ...BASE,
    title: { text: `ECE ${fmt(d.ece, 4)}`, left: "center", textStyle: { fontSize: 12 } },
    grid: { left: 8, right: 16, top: 32, bottom: 36, containLabel: true },
    tooltip: { renderMode: "richText", trigger: "axis" },
    xAxis: { type: "value", min: 0, max: 1, name: "confidence", nameLocation: "middle", nameGap: 24 },
    yAxis: { type: "value", min: 0, max: 1, name: "accuracy" },
    series: [
      { type: "bar", name: "accuracy", barWidth: "80%", data: mids.map((m, i) => [m, Number.isFinite(d.binAccuracy[i]) ? d.binAccuracy[i] : 0, d.binCount[i] ?? 0]), itemStyle: { color: RAMP[1] } },
      { type: "line", name: "mean confidence", data: mids.map((m, i) => [m, d.binConfidence[i]]).filter((p) => Number.isFinite(p[1])), itemStyle: { color: "#d62728" } },
      { type: "line", name: "perfect", data: [[0, 0], [1, 1]], symbol: "none", lineStyle: { type: "dashed", color: "#555" } },
    ],
  }, { notMerge: true });
}

function perClassTable(d: PredictionData): HTMLTableElement {
  const table = el("table", { class: "table", attrs: { "data-testid": "per-class" } }, el("thead", null, el("tr", null, ...["class", "precision", "recall", "F1", "support"].map((h) => el("th", null, h)))));
  const body = el("tbody");
  d.classes.forEach((c, i) => body.appendChild(el("tr", null, el("td", null, c), el("td", null, fmt(d.precision[i])), el("td", null, fmt(d.recall[i])), el("td", null, fmt(d.f1[i])), el("td", null, String(d.support[i] ?? 0)))));
  table.appendChild(body);
  return table;
}

function probabilityChart(chart: Chart, d: PredictionData, index: number): void {
  const p = d.probabilities[index] ?? [];
  chart.setOption({
    ...BASE,
    title: { text: `sample #${index}: true ${d.classes[d.labels[index] ?? 0] ?? ""}, predicted ${d.classes[d.predicted[index] ?? 0] ?? ""}`, left: "center", textStyle: { fontSize: 12 } },
    grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
    tooltip: { renderMode: "richText" },
    xAxis: { type: "category", data: d.classes },
    yAxis: { type: "value", min: 0, max: 1 },
    series: [{ type: "bar", data: p.map((v, k) => ({ value: v, itemStyle: { color: k === d.labels[index] ? "#2ca02c" : k === d.predicted[index] ? "#d62728" : "#999" } })) }],
  }, { notMerge: true });
}

function mistakesGallery(ctx: ViewContext, artifactId: number, d: PredictionData, onPick: (i: number) => void): HTMLElement {
  const g = gallery("mistakes");
  if (d.mistakes.length === 0) g.appendChild(el("span", null, "No mistakes."));
  for (const m of d.mistakes) {
    const text = `#${m.index} ${d.classes[m.label] ?? m.label} → ${d.classes[m.predicted] ?? m.predicted} (${fmt(m.confidence, 2)})`;
    const item = el("figure", { attrs: { "data-testid": "mistake" }, on: { click: () => onPick(m.index) } }, m.image ? blobImage(ctx, artifactId, m.image, 72, text) : null, el("figcaption", null, text));
    item.style.margin = "0";
    item.style.width = "96px";
    item.style.fontSize = "11px";
    item.style.cursor = "pointer";
    g.appendChild(item);
  }
  return g;
}

export const predictionsView: ViewModule = {
  id: "predictions",
  title: "Predictions",
  requires: [{ what: "artifacts", kinds: ["predictions"] }],
  hint: HINT,
  async render(container, ctx) {
    const infos = await artifactsOf(ctx, "predictions", HINT);
    let current = chosen(ctx, infos);
    const body = el("div");
    append(container, toolbar(artifactSelect(ctx, "Predictions", infos, current, (a) => { current = a; void draw(); }, "predictions-artifact")), body);
    async function draw(): Promise<void> {
      const art = await ctx.api.artifact(ctx.runId, current.id);
      if (ctx.signal.aborted) return;
      const d = asData(art);
      clear(body);
      const cmHost = el("div", { class: "tall", attrs: { "data-testid": "confusion-matrix" } });
      const calHost = el("div", { attrs: { "data-testid": "calibration" } });
      const probHost = el("div", { attrs: { "data-testid": "sample-probabilities" } });
      const grid = el("div", "chart-grid",
        el("div", "chart-card", el("h3", null, `Confusion matrix · accuracy ${fmt(d.accuracy, 4)} on ${d.n} samples`), cmHost),
        el("div", "chart-card", el("h3", null, "Calibration (reliability diagram)"), calHost, perClassTable(d)));
      const compared = el("div");
      append(body, compared, grid, el("section", "card", el("h3", null, "Most confident mistakes (click for class probabilities)"), mistakesGallery(ctx, current.id, d, pick), probHost));
      confusionChart(createChart(cmHost, ctx.onDispose), d);
      calibrationChart(createChart(calHost, ctx.onDispose), d);
      const probChart = createChart(probHost, ctx.onDispose);
      function pick(i: number): void {
        if (i < d.probabilities.length) probabilityChart(probChart, d, i);
      }
      pick(d.mistakes[0]?.index ?? 0);
      await comparePredictions(compared, ctx, current.name, d);
    }
    await draw();
  },
};
