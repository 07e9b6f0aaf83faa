// Predictions of the compared runs beside the route's run: accuracy, calibration error and
// macro F1 per run, and the recall of every class per run (a run that predicts one class shows
// one full bar and nothing else). Runs are matched by class name; a compared run without stored
// predictions says so instead of disappearing.
import type { ArtifactInfo } from "../api";
import { BASE, createChart, type Chart } from "../charts/echarts";
import { runColors } from "../charts/scalarChart";
import { append, el } from "../dom";
import { fmt } from "./explainShared";
import { asData, macroF1, recallByClass, type PredictionData } from "./predictionData";
import type { ViewContext } from "./types";

export interface Side {
  id: string;
  name: string;
  color: string;
  /** null: the run stored no predictions. */
  d: PredictionData | null;
}

/** The compared runs' predictions: the artifact with the same name as `name`, else the newest. */
async function comparedSides(ctx: ViewContext, name: string): Promise<Side[]> {
  const colors = runColors(ctx.runIds, new Map(ctx.runs.map((r) => [r.id, r.name])));
  return Promise.all(colors.slice(1).map(async (c) => {
    const infos = (await ctx.api.artifacts(c.id).catch(() => [] as ArtifactInfo[])).filter((a) => a.kind === "predictions");
    const pick = [...infos].reverse().find((a) => a.name === name) ?? infos[infos.length - 1];
    const d = pick ? asData(await ctx.api.artifact(c.id, pick.id)) : null;
    return { ...c, d };
  }));
}

function recallChart(chart: Chart, classes: readonly string[], sides: readonly Side[]): void {
  const shown = sides.filter((s): s is Side & { d: PredictionData } => s.d !== null);
  chart.setOption({
    ...BASE,
    legend: { top: 0, data: shown.map((s) => s.name) },
    grid: { left: 8, right: 16, top: 32, bottom: 36, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText" },
    xAxis: { type: "category", data: [...classes], name: "class", nameLocation: "middle", nameGap: 24 },
    yAxis: { type: "value", min: 0, max: 1, name: "recall" },
    series: shown.map((s) => ({ type: "bar", name: s.name, itemStyle: { color: s.color }, data: recallByClass(s.d, classes).map((v) => (Number.isFinite(v) ? v : null)) })),
  }, { notMerge: true });
}

function summaryRow(s: Side): HTMLTableRowElement {
  const cells = s.d ? [String(s.d.n), fmt(s.d.accuracy, 4), fmt(s.d.ece, 4), fmt(macroF1(s.d), 4)] : ["no predictions stored", "", "", ""];
  const swatch = el("span");
  Object.assign(swatch.style, { display: "inline-block", width: "10px", height: "10px", borderRadius: "2px", background: s.color });
  return el("tr", { attrs: { "data-run-id": s.id } }, el("td", null, swatch, ` ${s.name}`), ...cells.map((c) => el("td", null, c)));
}

/** A card comparing `own` (the route's run) with the compared runs; nothing without any. */
export async function comparePredictions(box: HTMLElement, ctx: ViewContext, artifactName: string, own: PredictionData): Promise<void> {
  if (ctx.runIds.length < 2) return;
  const others = await comparedSides(ctx, artifactName);
  if (ctx.signal.aborted) return;
  const first = runColors(ctx.runIds, new Map(ctx.runs.map((r) => [r.id, r.name])))[0];
  const sides: Side[] = [{ id: ctx.runId, name: first?.name ?? ctx.runId, color: first?.color ?? "#888", d: own }, ...others];
  const table = el("table", { class: "table compare-table", attrs: { "data-testid": "predictions-compare" } },
    el("thead", null, el("tr", null, ...["run", "samples", "accuracy", "ECE", "macro F1"].map((h) => el("th", null, h)))),
    el("tbody", null, ...sides.map(summaryRow)));
  const host = el("div", { attrs: { "data-testid": "recall-compare", "data-runs": String(sides.filter((s) => s.d).length) } });
  append(box, el("section", { class: "card", attrs: { "data-testid": "predictions-comparison" } },
    el("h3", null, "Compared runs: accuracy, calibration and the recall of each class"), table, host));
  recallChart(createChart(host, ctx.onDispose, "recall-by-class"), own.classes, sides);
}
