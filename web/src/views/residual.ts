// Residual stream: per-block residual norm and outlier ratio (largest / median |activation|, with
// its channel) over steps, and the output logits' drift (max logit, mean logit, log-partition).
import { isNotRecorded, type OutputSeries, type StatMatrix } from "../api";
import { BASE, createChart, PALETTE, type Chart } from "../charts/echarts";
import { append, el, errorBox, notRecorded } from "../dom";
import { formatNumber } from "../lib/format";
import type { ViewContext, ViewModule } from "./types";

const HINT = "run.watch(model) on a model with attention";
const MAX_STEPS = 500;

function color(i: number): string {
  return PALETTE[i % PALETTE.length] as string;
}

function blockLines(chart: Chart, m: StatMatrix, yName: string, log: boolean, channels?: StatMatrix): void {
  chart.setOption(
    {
      ...BASE,
      legend: { type: "scroll", top: 0 },
      grid: { left: 8, right: 36, top: 36, bottom: 28, containLabel: true },
      tooltip: {
        trigger: "axis",
        renderMode: "richText",
        formatter: (ps: { seriesIndex: number; dataIndex: number; seriesName: string; data: [number, number | null] }[]) => {
          const step = ps[0]?.data[0];
          const lines = ps.map((p) => {
            const ch = channels?.values[p.seriesIndex]?.[p.dataIndex];
            return `${p.seriesName}: ${formatNumber(p.data[1], 4)}${ch === null || ch === undefined ? "" : ` (channel ${ch})`}`;
          });
          return [`step ${step}`, ...lines].join("\n");
        },
      },
      xAxis: { type: "value", name: "step", min: "dataMin", max: "dataMax" },
      yAxis: { type: log ? "log" : "value", name: yName, nameTextStyle: { align: "left" }, scale: true },
      series: m.layers.map((name, i) => ({
        type: "line",
        name,
        showSymbol: false,
        color: color(i),
        data: m.steps.map((s, j) => {
          const v = m.values[i]?.[j] ?? null;
          return [s, v !== null && (!log || v > 0) ? v : null];
        }),
      })),
    },
    { notMerge: true },
  );
}

function outputLines(chart: Chart, o: OutputSeries): void {
  const f = (name: string): [number, number | null][] => o.steps.map((s, i) => [s, o.fields[name]?.[i] ?? null]);
  chart.setOption(
    {
      ...BASE,
      legend: { top: 0 },
      grid: { left: 8, right: 36, top: 36, bottom: 28, containLabel: true },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v: unknown) => (typeof v === "number" ? formatNumber(v, 4) : "–") },
      // the log-partition and the mean logit lie on both sides of 0: keep the step axis at the bottom
      xAxis: { type: "value", name: "step", min: "dataMin", max: "dataMax", axisLine: { onZero: false } },
      yAxis: { type: "value", name: "logit / nats", nameTextStyle: { align: "left" }, scale: true },
      series: [
        { type: "line", name: "log-partition z (mean)", showSymbol: false, color: PALETTE[0], data: f("lse_mean") },
        { type: "line", name: "z min", showSymbol: false, color: PALETTE[4], lineStyle: { type: "dashed" }, data: f("lse_min") },
        { type: "line", name: "z max", showSymbol: false, color: PALETTE[4], lineStyle: { type: "dashed" }, data: f("lse_max") },
        { type: "line", name: "max logit", showSymbol: false, color: PALETTE[5], data: f("max_logit") },
        { type: "line", name: "mean logit", showSymbol: false, color: PALETTE[2], data: f("logit_mean") },
      ],
    },
    { notMerge: true },
  );
}

/** Last recorded outlier ratio per block, largest first, as text (also read by the browser tests). */
function outlierCaption(ratio: StatMatrix, channel: StatMatrix): string {
  const last = ratio.layers.map((name, i) => {
    const row = ratio.values[i] ?? [];
    let j = row.length - 1;
    while (j >= 0 && (row[j] === null || row[j] === undefined)) j--;
    return { name, v: j >= 0 ? (row[j] as number) : null, ch: j >= 0 ? (channel.values[i]?.[j] ?? null) : null };
  }).filter((x) => x.v !== null).sort((a, b) => (b.v as number) - (a.v as number));
  if (!last.length) return "not recorded";
  const top = last[0] as { name: string; v: number; ch: number | null };
  return `at the last step the largest outlier ratio is ${formatNumber(top.v, 3)} in ${top.name} (channel ${top.ch ?? "–"})`;
}

function card(title: string, testid: string): { box: HTMLElement; host: HTMLElement; note: HTMLElement } {
  const host = el("div", { class: "chart", attrs: { "data-testid": testid } });
  const note = el("p", { class: "muted", attrs: { "data-testid": `${testid}-caption` } });
  return { box: el("section", "card", el("h3", null, title), host, note), host, note };
}

export const residualView: ViewModule = {
  id: "residual",
  title: "Residual stream",
  requires: [{ what: "transformer" }],
  hint: HINT,
  async render(container: HTMLElement, ctx: ViewContext) {
    const norm = card("Residual-stream norm per block (mean per-token L2 norm of the block output)", "residual-norm");
    const outl = card("Outlier ratio per block (largest / median |activation|; the tooltip names the channel)", "outlier-ratio");
    const out = card("Output logits: log-partition drift and the largest logit", "output-logits");
    append(container, norm.box, outl.box, out.box);
    const api = ctx.api;
    const failed = (c: { host: HTMLElement; box: HTMLElement }, what: string, err: unknown): void => {
      c.host.hidden = true;
      c.box.appendChild(isNotRecorded(err) ? notRecorded(what, HINT) : errorBox((err as Error).message));
    };
    const charts = { norm: createChart(norm.host, ctx.onDispose), outl: createChart(outl.host, ctx.onDispose), out: createChart(out.host, ctx.onDispose) };
    async function draw(): Promise<void> {
      const [n, r, ch, o] = await Promise.allSettled([
        api.blockMatrix(ctx.runId, "norm", MAX_STEPS),
        api.blockMatrix(ctx.runId, "outlier_ratio", MAX_STEPS),
        api.blockMatrix(ctx.runId, "channel", MAX_STEPS),
        api.outputSeries(ctx.runId),
      ]);
      if (ctx.signal.aborted) return;
      if (n.status === "fulfilled") blockLines(charts.norm, n.value, "L2 norm", false);
      else failed(norm, "Residual norm", n.reason);
      if (r.status === "fulfilled" && ch.status === "fulfilled") {
        blockLines(charts.outl, r.value, "largest / median", true, ch.value);
        outl.note.textContent = outlierCaption(r.value, ch.value);
      } else failed(outl, "Outlier ratio", r.status === "rejected" ? r.reason : (ch as PromiseRejectedResult).reason);
      if (o.status === "fulfilled") {
        outputLines(charts.out, o.value);
        const z = o.value.fields.lse_mean ?? [];
        const first = z.find((v) => v !== null);
        const last = [...z].reverse().find((v) => v !== null);
        out.note.textContent = `log-partition z: ${formatNumber(first, 4)} at step ${o.value.steps[0] ?? "–"}, ${formatNumber(last, 4)} at step ${o.value.steps[o.value.steps.length - 1] ?? "–"}`;
      } else failed(out, "Output logits", o.reason);
    }
    await draw();
    return { refresh: draw };
  },
};
