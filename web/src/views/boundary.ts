// Decision boundary: the class the model predicts over a 2-D plane through the data (PCA, two
// features, or the inputs themselves), shaded by its probability, with the data points on it
// coloured by their true class; misclassified points are drawn as crosses.
import type { Artifact } from "../api";
import { BASE, createChart, PALETTE, type Chart } from "../charts/echarts";
import { append, el, toolbar } from "../dom";
import { formatNumber } from "../lib/format";
import { artifactSelect, artifactsOf, chosen, matrix, numberList, stringList } from "./explainShared";
import type { ViewModule } from "./types";

const HINT = "run.log_artifact(ds.explain.decision_boundary(model, X, y))";
const COLORS = [...PALETTE.slice(0, 7), "#8c564b", "#7f7f7f", "#17becf", "#9467bd", "#bcbd22"];

interface BoundaryData {
  axes: string[];
  xs: number[];
  ys: number[];
  predicted: number[][];
  probability: number[][];
  classes: string[];
  points: number[][];
  labels: number[] | null;
  pointPredicted: number[];
  projection: string;
}

function asData(a: Artifact): BoundaryData {
  const d = a.data as Record<string, unknown>;
  return {
    axes: stringList(d.axis_labels),
    xs: numberList(d.xs),
    ys: numberList(d.ys),
    predicted: matrix(d.predicted),
    probability: matrix(d.probability),
    classes: stringList(d.classes),
    points: matrix(d.points),
    labels: Array.isArray(d.labels) ? numberList(d.labels) : null,
    pointPredicted: numberList(d.point_predicted),
    projection: String(d.projection ?? ""),
  };
}

/** `hex` mixed with white (a = share of the colour): opaque, so neighbouring cells leave no seams. */
function tint(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  const mix = (c: number): number => Math.round(255 - (255 - c) * a);
  return `rgb(${mix((n >> 16) & 255)}, ${mix((n >> 8) & 255)}, ${mix(n & 255)})`;
}

function draw(chart: Chart, d: BoundaryData): void {
  const dx = (d.xs[1] ?? 1) - (d.xs[0] ?? 0);
  const dy = (d.ys[1] ?? 1) - (d.ys[0] ?? 0);
  const cells: [number, number, number, number][] = [];
  d.predicted.forEach((row, i) => row.forEach((c, j) => cells.push([d.xs[j] as number, d.ys[i] as number, c, d.probability[i]?.[j] ?? 1])));
  const grid = {
    type: "custom", name: "predicted class", silent: true, z: 1,
    renderItem: (_p: unknown, api: { value(i: number): number; coord(v: number[]): number[] }) => {
      const a = api.coord([api.value(0) - dx / 2, api.value(1) - dy / 2]);
      const b = api.coord([api.value(0) + dx / 2, api.value(1) + dy / 2]);
      const color = COLORS[api.value(2) % COLORS.length] as string;
      // Shade: 0.15 at chance-level confidence up to 0.55 when certain.
      return { type: "rect", shape: { x: Math.min(a[0] ?? 0, b[0] ?? 0), y: Math.min(a[1] ?? 0, b[1] ?? 0), width: Math.abs((b[0] ?? 0) - (a[0] ?? 0)) + 1, height: Math.abs((b[1] ?? 0) - (a[1] ?? 0)) + 1 }, style: { fill: tint(color, 0.15 + 0.4 * api.value(3)) } };
    },
    data: cells,
    encode: { x: 0, y: 1 },
  };
  const byClass = d.classes.map((name, c) => {
    const pts = d.points.map((p, i) => ({ p, i })).filter(({ i }) => (d.labels ? d.labels[i] : d.pointPredicted[i]) === c);
    return [
      { type: "scatter", name, symbolSize: 6, z: 3, itemStyle: { color: COLORS[c % COLORS.length], borderColor: "#222", borderWidth: 0.7 },
        data: pts.filter(({ i }) => !d.labels || d.pointPredicted[i] === c).map(({ p }) => [p[0], p[1]]) },
      { type: "scatter", name, symbol: "path://M0,0L10,10M10,0L0,10", symbolSize: 7, z: 4, itemStyle: { color: COLORS[c % COLORS.length], borderColor: COLORS[c % COLORS.length], borderWidth: 1.5 },
        data: pts.filter(({ i }) => d.labels !== null && d.pointPredicted[i] !== c).map(({ p, i }) => ({ value: [p[0], p[1]], predicted: d.pointPredicted[i] })) },
    ];
  }).flat();
  chart.setOption({
    ...BASE,
    legend: { top: 0, type: "scroll", data: d.classes },
    grid: { left: 50, right: 20, top: 34, bottom: 44 },
    tooltip: { renderMode: "richText", formatter: (p: { seriesName: string; value: number[]; data: { predicted?: number } }) => `${d.labels ? "true" : "predicted"} ${p.seriesName}${p.data?.predicted !== undefined ? `, predicted ${d.classes[p.data.predicted] ?? p.data.predicted}` : ""}\n(${formatNumber(p.value[0], 3)}, ${formatNumber(p.value[1], 3)})` },
    xAxis: { type: "value", axisLine: { onZero: false }, splitLine: { show: false }, name: d.axes[0] ?? "x", nameLocation: "middle", nameGap: 26, min: (d.xs[0] ?? 0) - dx / 2, max: (d.xs[d.xs.length - 1] ?? 1) + dx / 2, axisLabel: { formatter: (v: number) => formatNumber(v, 2) } },
    yAxis: { type: "value", axisLine: { onZero: false }, splitLine: { show: false }, name: d.axes[1] ?? "y", nameLocation: "middle", nameGap: 36, min: (d.ys[0] ?? 0) - dy / 2, max: (d.ys[d.ys.length - 1] ?? 1) + dy / 2, axisLabel: { formatter: (v: number) => formatNumber(v, 2) } },
    series: [grid, ...byClass],
  }, { notMerge: true });
}

export const boundaryView: ViewModule = {
  id: "boundary",
  title: "Boundary",
  requires: [{ what: "artifacts", kinds: ["decision_boundary"] }],
  hint: HINT,
  async render(container, ctx) {
    const infos = await artifactsOf(ctx, "decision_boundary", HINT);
    let current = chosen(ctx, infos);
    const note = el("p", "muted");
    const host = el("div", { class: "square", attrs: { "data-testid": "boundary-map" } });
    append(container, toolbar(artifactSelect(ctx, "Boundary", infos, current, (a) => { current = a; void show(); }, "boundary-artifact")),
      el("section", "card", el("h3", null, "Predicted class over the plane (shade: probability), data points by true class (×: misclassified)"), note, host));
    const chart = createChart(host, ctx.onDispose, "decision-boundary");
    async function show(): Promise<void> {
      const d = asData(await ctx.api.artifact(ctx.runId, current.id));
      if (ctx.signal.aborted) return;
      const wrong = d.labels ? d.points.filter((_, i) => d.pointPredicted[i] !== d.labels?.[i]).length : 0;
      note.textContent = `${d.projection} plane · ${d.xs.length} × ${d.ys.length} grid · ${d.points.length} points${d.labels ? `, ${wrong} misclassified` : ""}`;
      host.dataset.points = String(d.points.length);
      host.dataset.misclassified = String(wrong);
      draw(chart, d);
    }
    await show();
  },
};
