import { isNotRecorded, type StatMatrix } from "../api";
import { BASE, createChart, PALETTE, type Chart } from "../charts/echarts";
import { CanvasHeatmap } from "../charts/canvasHeatmap";
import { append, clear, el, errorBox, notRecorded, select, slider, toolbar } from "../dom";
import { formatNumber } from "../lib/format";
import { columnAt, nearestStepIndex } from "../lib/heatmap";
import type { ViewContext, ViewModule } from "./types";

interface StatChoice {
  id: string;
  label: string;
  kind: string;
  field: string;
  log: boolean;
}

/** The statistics the heatmap offers (kind/field of the stats API). */
export const HEALTH_STATS: readonly StatChoice[] = [
  { id: "grad_norm", label: "Gradient norm", kind: "grad", field: "norm", log: true },
  { id: "update_ratio", label: "Update/weight ratio", kind: "update", field: "update_ratio", log: true },
  { id: "dead_frac", label: "Dead-unit share", kind: "activation", field: "dead_frac", log: false },
  { id: "saturated_frac", label: "Saturation", kind: "activation", field: "saturated_frac", log: false },
  { id: "act_std", label: "Activation std", kind: "activation", field: "std", log: true },
  { id: "weight_norm", label: "Weight norm", kind: "weight", field: "norm", log: true },
];

const MAX_STEPS = 500;

function drawFlow(chart: Chart, m: StatMatrix, si: number, highlight: string | null): void {
  const col = columnAt(m, si);
  // Bars on a log scale growing up from at least half a decade below the smallest norm: ECharts draws log-axis
  // bars from 1, so norms below 1 would point down. Plot decades above that floor instead.
  const positive = col.map((c) => c.value).filter((v): v is number => v !== null && v > 0);
  const floor = positive.length ? Math.floor(Math.log10(Math.min(...positive)) - 0.5) : 0;
  const show = (d: unknown): string => (typeof d === "number" ? formatNumber(Math.pow(10, d + floor), 4) : "not recorded");
  chart.setOption(
    {
      ...BASE,
      grid: { left: 60, right: 16, top: 24, bottom: 90 },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: show },
      xAxis: { type: "category", data: col.map((c) => c.layer), axisLabel: { rotate: 45, interval: "auto", formatter: (v: string) => (v.length > 20 ? `…${v.slice(-19)}` : v) } },
      yAxis: { type: "value", name: "gradient norm (log)", min: 0, minInterval: 1, axisLabel: { formatter: show } },
      series: [
        {
          type: "bar",
          name: "gradient norm",
          data: col.map((c) => ({
            value: c.value !== null && c.value > 0 ? Math.log10(c.value) - floor : null,
            itemStyle: { color: c.layer === highlight ? PALETTE[5] : PALETTE[0] },
          })),
        },
      ],
    },
    { notMerge: true },
  );
}

export const healthView: ViewModule = {
  id: "health",
  title: "Layer health",
  requires: [{ what: "stats", kinds: ["grad", "update", "activation", "weight"] }],
  hint: "run.watch(model, optimizer=opt)",
  async render(container, ctx: ViewContext) {
    const choices = HEALTH_STATS.filter((s) => ctx.run.kinds.includes(s.kind));
    let stat = choices.find((s) => s.id === ctx.params.get("stat")) ?? (choices[0] as StatChoice);
    const highlight = ctx.params.get("layer");
    const heatHost = el("div", { attrs: { "data-testid": "health-heatmap" } });
    const heatMsg = el("div");
    const heatBox = el("section", "card", el("h3", null, "Layers × steps (click a cell to see its step below)"), heatMsg, heatHost);
    const flowBox = el("section", "card");
    append(
      container,
      toolbar(select("Statistic", choices.map((c) => ({ value: c.id, label: c.label })), stat.id, (v) => {
        stat = choices.find((c) => c.id === v) ?? stat;
        ctx.setParams({ stat: stat.id });
        void drawHeat();
      }, "health-stat")),
      heatBox,
      flowBox,
    );

    // One request per matrix and data version: the heatmap and the gradient flow share grad/norm.
    let cache = new Map<string, Promise<StatMatrix>>();
    const matrix = (kind: string, field: string): Promise<StatMatrix> => {
      const key = `${kind}/${field}`;
      let p = cache.get(key);
      if (!p) {
        p = ctx.api.statMatrix(ctx.runId, kind, field, MAX_STEPS);
        cache.set(key, p);
        p.catch(() => cache.delete(key));
      }
      return p;
    };

    const heat = new CanvasHeatmap(heatHost, ctx.onDispose);
    async function drawHeat(): Promise<void> {
      clear(heatMsg);
      try {
        const m = await matrix(stat.kind, stat.field);
        if (ctx.signal.aborted) return;
        heatHost.hidden = false;
        heat.set(m, { log: stat.log, label: stat.label, highlight, onPick: (step) => void pickStep(step) });
      } catch (err) {
        heatHost.hidden = true;
        heatMsg.appendChild(isNotRecorded(err) ? notRecorded(stat.label, healthView.hint) : errorBox((err as Error).message));
      }
    }

    let flow: Chart | undefined;
    let flowSlider: HTMLInputElement | undefined;
    let latest: StatMatrix | undefined;
    let flowStep: number | null = ctx.params.get("step") === null ? null : Number(ctx.params.get("step"));
    function showFlow(si: number): void {
      if (!latest || !flow) return;
      flowStep = latest.steps[si] ?? null;
      if (flowSlider) {
        flowSlider.max = String(latest.steps.length - 1);
        flowSlider.value = String(si);
        const out = flowSlider.parentElement?.querySelector("output");
        if (out) out.textContent = String(flowStep ?? "");
      }
      drawFlow(flow, latest, si, highlight);
    }
    async function pickStep(step: number): Promise<void> {
      if (!latest) return;
      ctx.setParams({ step });
      showFlow(nearestStepIndex(latest.steps, step));
    }
    async function drawFlowBox(): Promise<void> {
      if (!ctx.run.kinds.includes("grad")) {
        clear(flowBox);
        append(flowBox, el("h3", null, "Gradient flow"), notRecorded("Gradients", "run.watch(model) and loss.backward()"));
        return;
      }
      const m = await matrix("grad", "norm");
      if (ctx.signal.aborted || m.steps.length === 0) return;
      latest = m;
      const si = flowStep === null ? m.steps.length - 1 : nearestStepIndex(m.steps, flowStep);
      if (!flow) {
        const host = el("div", { attrs: { "data-testid": "gradient-flow" } });
        const stepSlider = slider("Step", { min: 0, max: m.steps.length - 1, step: 1, value: si }, (v) => {
          showFlow(v);
          ctx.setParams({ step: flowStep });
        }, (v) => String(latest?.steps[v] ?? v), "flow-step");
        append(flowBox, el("h3", null, "Gradient flow (per-layer gradient norm at one step)"), toolbar(stepSlider), host);
        flow = createChart(host, ctx.onDispose);
        flowSlider = stepSlider.querySelector("input") as HTMLInputElement;
      }
      showFlow(si);
    }

    await Promise.all([drawHeat(), drawFlowBox()]);
    return {
      refresh: async () => {
        cache = new Map();
        await Promise.all([drawHeat(), drawFlowBox()]);
      },
    };
  },
};
