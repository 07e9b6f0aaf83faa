// Feature importance: features ranked by the drop of the metric when they are permuted (or
// ablated), with the confidence interval of each as an error bar; compared runs that stored the
// importance of the same features are drawn beside it.
import type { Artifact, ArtifactInfo } from "../api";
import { BASE, createChart, type Chart } from "../charts/echarts";
import { runColors } from "../charts/scalarChart";
import { append, clear, el, select, toolbar } from "../dom";
import { formatNumber } from "../lib/format";
import { artifactSelect, artifactsOf, chosen, fmt, numberList, stringList } from "./explainShared";
import type { ViewContext, ViewModule } from "./types";

const HINT = "run.log_artifact(ds.explain.feature_importance(model, X, y))";

export interface ImportanceData {
  method: string;
  metric: string;
  baseline: number;
  repeats: number;
  confidence: number;
  names: string[];
  importance: number[];
  low: number[];
  high: number[];
  order: number[];
}

export function asImportance(a: Artifact): ImportanceData {
  const d = a.data as Record<string, unknown>;
  const importance = numberList(d.importance);
  const order = numberList(d.order);
  return {
    method: String(d.method ?? "?"),
    metric: String(d.metric ?? "?"),
    baseline: Number(d.baseline_score),
    repeats: Number(d.repeats ?? 0),
    confidence: Number(d.confidence ?? 0.95),
    names: stringList(d.feature_names),
    importance,
    low: numberList(d.ci_low),
    high: numberList(d.ci_high),
    order: order.length ? order : importance.map((_, i) => i).sort((a, b) => (importance[b] ?? 0) - (importance[a] ?? 0)),
  };
}

interface Shown {
  name: string;
  color: string;
  d: ImportanceData;
}

function draw(chart: Chart, shown: Shown[], top: number): void {
  const first = shown[0];
  if (!first) return;
  const features = first.d.order.slice(0, top).reverse(); // most important at the top
  const names = features.map((j) => first.d.names[j] ?? `f${j}`);
  const index = (d: ImportanceData, name: string): number => d.names.indexOf(name);
  const bars = shown.map((s) => ({
    type: "bar", name: s.name, itemStyle: { color: s.color },
    data: names.map((n) => s.d.importance[index(s.d, n)] ?? null),
  }));
  const errors = shown.map((s, k) => ({
    type: "custom", name: `${s.name} CI`, silent: true, z: 10,
    renderItem: (_p: unknown, api: { value(i: number): number; coord(v: number[]): number[]; size(v: number[]): number[] }) => {
      const lo = api.coord([api.value(1), api.value(0)]);
      const hi = api.coord([api.value(2), api.value(0)]);
      const band = api.size([0, 1])[1] ?? 10;
      const off = shown.length > 1 ? (k - (shown.length - 1) / 2) * (band * 0.8 / shown.length) : 0;
      const y = (lo[1] ?? 0) + off;
      const style = { stroke: "#222", lineWidth: 1 };
      return { type: "group", children: [
        { type: "line", shape: { x1: lo[0], y1: y, x2: hi[0], y2: y }, style },
        { type: "line", shape: { x1: lo[0], y1: y - 3, x2: lo[0], y2: y + 3 }, style },
        { type: "line", shape: { x1: hi[0], y1: y - 3, x2: hi[0], y2: y + 3 }, style },
      ] };
    },
    data: names.map((n, i) => [i, s.d.low[index(s.d, n)] ?? null, s.d.high[index(s.d, n)] ?? null]),
    encode: { y: 0, x: [1, 2] },
  }));
  chart.setOption({
    ...BASE,
    legend: shown.length > 1 ? { top: 0, data: shown.map((s) => s.name) } : undefined,
    grid: { left: 8, right: 24, top: shown.length > 1 ? 28 : 10, bottom: 36, containLabel: true },
    tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, renderMode: "richText", formatter: (items: { dataIndex: number }[]) => {
      const i = items[0]?.dataIndex ?? 0;
      const n = names[i] ?? "";
      return [n, ...shown.map((s) => { const j = index(s.d, n); return `${s.name}: ${formatNumber(s.d.importance[j], 4)} [${formatNumber(s.d.low[j], 3)}, ${formatNumber(s.d.high[j], 3)}]`; })].join("\n");
    } },
    xAxis: { type: "value", name: `drop of ${first.d.metric}`, nameLocation: "middle", nameGap: 22 },
    yAxis: { type: "category", data: names, axisLabel: { width: 180, overflow: "truncate" } },
    series: [...bars, ...errors],
  }, { notMerge: true });
}

async function comparedImportance(ctx: ViewContext, names: readonly string[]): Promise<{ id: string; d: ImportanceData }[]> {
  const out = [];
  for (const id of ctx.runIds.slice(1)) {
    const infos = (await ctx.api.artifacts(id).catch(() => [] as ArtifactInfo[])).filter((a) => a.kind === "feature_importance");
    const last = infos[infos.length - 1];
    if (!last) continue;
    const d = asImportance(await ctx.api.artifact(id, last.id));
    if (d.names.some((n) => names.includes(n))) out.push({ id, d });
  }
  return out;
}

export const importanceView: ViewModule = {
  id: "importance",
  title: "Importance",
  requires: [{ what: "artifacts", kinds: ["feature_importance"] }],
  hint: HINT,
  async render(container, ctx) {
    const infos = await artifactsOf(ctx, "feature_importance", HINT);
    let current = chosen(ctx, infos);
    let top = Number(ctx.params.get("top") ?? 30) || 30;
    const colors = runColors(ctx.runIds, new Map(ctx.runs.map((r) => [r.id, r.name])));
    const info = el("p", "muted");
    const host = el("div", { attrs: { "data-testid": "importance-chart" } });
    const card = el("section", "card", el("h3", null, "Features by importance (error bars: confidence interval)"), info, host);
    append(container, toolbar(
      artifactSelect(ctx, "Importance", infos, current, (a) => { current = a; void show(); }, "importance-artifact"),
      select("Show", [10, 20, 30, 50, 100].map((n) => ({ value: String(n), label: `top ${n}` })), String(top), (v) => { top = Number(v); ctx.setParams({ top }); void show(); }, "importance-top"),
    ), card);
    const chart = createChart(host, ctx.onDispose, "feature-importance");
    async function show(): Promise<void> {
      const d = asImportance(await ctx.api.artifact(ctx.runId, current.id));
      const others = await comparedImportance(ctx, d.names);
      if (ctx.signal.aborted) return;
      clear(info);
      append(info, `${d.method} importance: drop of ${d.metric} from ${fmt(d.baseline, 4)} over ${d.repeats} repeats, ${Math.round(d.confidence * 100)}% intervals; ${d.names.length} features.`);
      host.style.height = `${Math.max(220, 70 + Math.min(top, d.names.length) * (16 + 8 * (others.length + 1)))}px`;
      chart.resize();
      const name = (id: string): string => colors.find((c) => c.id === id)?.name ?? id;
      const color = (id: string): string => colors.find((c) => c.id === id)?.color ?? "#888";
      draw(chart, [{ name: name(ctx.runId), color: color(ctx.runId), d }, ...others.map((o) => ({ name: name(o.id), color: color(o.id), d: o.d }))], top);
      host.dataset.features = String(Math.min(top, d.names.length));
      host.dataset.top = d.names[d.order[0] ?? 0] ?? "";
    }
    await show();
  },
};
