// The small chart on each diagnosis card: the data the finding is about, drawn from the same API
// the views use (loss curves for loss findings, the culprit layer's statistic over steps, the
// per-layer gradient norms at the finding's step for vanishing gradients).
import type { Finding } from "../api";
import { BASE, createChart, PALETTE } from "../charts/echarts";
import { formatNumber } from "../lib/format";
import { nearestStepIndex } from "../lib/heatmap";
import { lossTags } from "../lib/metrics";
import type { ViewContext } from "./types";

type Evidence =
  | { what: "scalars"; tags: string[]; log: boolean }
  | { what: "stat"; kind: string; field: string; label: string; log: boolean }
  | { what: "layers"; kind: string; field: string; label: string };

/** Which data shows a finding's evidence, or null when no chart helps. */
export function evidenceOf(f: Finding, tags: readonly string[]): Evidence | null {
  const loss = lossTags(tags);
  const losses = [loss.train, loss.val].filter((t): t is string => t !== null);
  switch (f.code) {
    case "vanishing_gradients":
      return { what: "layers", kind: "grad", field: "norm", label: "gradient norm per layer" };
    case "exploding_gradients":
    case "no_gradient":
      return f.layer ? { what: "stat", kind: "grad", field: "norm", label: "gradient norm", log: true } : null;
    case "dead_units":
      return f.layer ? { what: "stat", kind: "activation", field: "dead_frac", label: "dead-unit share", log: false } : null;
    case "saturated_activations":
      return f.layer ? { what: "stat", kind: "activation", field: "saturated_frac", label: "saturated share", log: false } : null;
    case "frozen_parameters":
      return f.layer ? { what: "stat", kind: "weight", field: "norm", label: "weight norm", log: false } : null;
    case "update_underflow":
      return f.layer ? { what: "stat", kind: "update", field: "zero_frac", label: "unchanged share of the update", log: false } : null;
    case "unnormalized_inputs":
      return { what: "stat", kind: "input", field: "std", label: "input std", log: false };
    case "overfitting":
    case "no_generalization":
    case "loss_plateau":
    case "loss_oscillation":
    case "nonfinite":
      return losses.length ? { what: "scalars", tags: f.code === "loss_plateau" || f.code === "loss_oscillation" ? losses.slice(0, 1) : losses, log: false } : null;
    default:
      return null;
  }
}

const mark = (step: number | null): object | undefined =>
  step === null ? undefined : { silent: true, symbol: "none", lineStyle: { color: "#D55E00", type: "dashed" }, label: { formatter: `step ${step}`, fontSize: 10, position: "insideEndTop" }, data: [{ xAxis: step }] };

/** Draw the evidence of `f` into `host`; false (nothing drawn) when the data is not there. */
export async function drawEvidence(host: HTMLElement, f: Finding, ctx: ViewContext): Promise<boolean> {
  const ev = evidenceOf(f, ctx.run.tags);
  if (!ev) return false;
  const common = { ...BASE, grid: { left: 46, right: 10, top: 22, bottom: 22 }, tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v: unknown) => (typeof v === "number" ? formatNumber(v, 4) : "–") } };
  if (ev.what === "scalars") {
    const got = await Promise.all(ev.tags.map((t) => ctx.api.scalars(ctx.runId, t, { maxPoints: 300 }).catch(() => null)));
    const series = got.flatMap((s, k) => (s ? [{ type: "line", name: s.tag, showSymbol: false, data: s.steps.map((x, i) => [x, s.values[i]]), lineStyle: { width: 1.3 }, itemStyle: { color: PALETTE[k] }, markLine: k === 0 ? mark(f.step) : undefined }] : []));
    if (!series.length || ctx.signal.aborted) return false;
    createChart(host, ctx.onDispose, `${f.code}-evidence`).setOption({ ...common, legend: { top: 0, textStyle: { fontSize: 10 } }, xAxis: { type: "value", min: "dataMin", max: "dataMax" }, yAxis: { type: "value", scale: true }, series });
    return true;
  }
  if (ev.what === "stat") {
    const layer = f.layer ?? "<root>";
    const s = await ctx.api.statSeries(ctx.runId, layer, ev.kind, 500).catch(() => null);
    const values = s?.fields[ev.field];
    if (!s || !values || ctx.signal.aborted) return false;
    createChart(host, ctx.onDispose, `${f.code}-evidence`).setOption({
      ...common,
      title: { text: `${ev.label} of ${layer}`, textStyle: { fontSize: 10, fontWeight: "normal" }, left: 46, top: 0 },
      xAxis: { type: "value", min: "dataMin", max: "dataMax" },
      yAxis: { type: ev.log && values.every((v) => v === null || v > 0) ? "log" : "value", scale: true, axisLabel: { formatter: (v: number) => formatNumber(v, 2) } },
      series: [{ type: "line", name: ev.label, showSymbol: false, data: s.steps.map((x, i) => [x, values[i]]), itemStyle: { color: PALETTE[0] }, markLine: mark(f.step) }],
    });
    return true;
  }
  const m = await ctx.api.statMatrix(ctx.runId, ev.kind, ev.field, 200).catch(() => null);
  if (!m || !m.steps.length || ctx.signal.aborted) return false;
  const j = f.step === null ? m.steps.length - 1 : nearestStepIndex(m.steps, f.step);
  const col = m.layers.map((l, i) => [l, m.values[i]?.[j] ?? null] as const).filter((c) => c[1] !== null && (c[1] as number) > 0);
  if (!col.length) return false;
  createChart(host, ctx.onDispose, `${f.code}-evidence`).setOption({
    ...common,
    title: { text: `${ev.label} at step ${m.steps[j]}`, textStyle: { fontSize: 10, fontWeight: "normal" }, left: 46, top: 0 },
    xAxis: { type: "category", data: col.map((c) => c[0]), axisLabel: { fontSize: 9, interval: "auto", formatter: (v: string) => (v.length > 12 ? `…${v.slice(-11)}` : v) } },
    yAxis: { type: "log", axisLabel: { formatter: (v: number) => formatNumber(v, 1) } },
    series: [{ type: "bar", data: col.map((c) => ({ value: c[1], itemStyle: { color: c[0] === f.layer ? "#D55E00" : PALETTE[0] } })) }],
  });
  return true;
}
