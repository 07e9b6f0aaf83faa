import { isNotRecorded, type StatMatrix } from "../api";
import { createChart, PALETTE, type Chart } from "../charts/echarts";
import { CanvasHeatmap } from "../charts/canvasHeatmap";
import { drawFlow } from "../charts/gradientFlow";
import { runColors } from "../charts/scalarChart";
import { append, checkbox, clear, el, errorBox, notRecorded, select, slider, toolbar } from "../dom";
import { formatNumber } from "../lib/format";
import { nearestStepIndex } from "../lib/heatmap";
import { ZERO } from "../lib/heatScale";
import { blockIds, buildRows, diffMatrix, groupByDefault, type Row } from "../lib/layerRows";
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
const hex = (c: readonly number[]): string => `rgb(${c.join(",")})`;

/** What the heatmap shows: one run's matrix, or the difference of the route's run and another. */
interface Shown {
  mode: "run" | "diff";
  runId: string;
  other: string | null;
}

function parseShown(ctx: ViewContext): Shown {
  const v = ctx.params.get("show") ?? "";
  const [mode, id] = v.split(":", 2);
  if (mode === "diff" && id && ctx.runIds.includes(id) && id !== ctx.runId) return { mode: "diff", runId: ctx.runId, other: id };
  if (mode === "run" && id && ctx.runIds.includes(id)) return { mode: "run", runId: id, other: null };
  return { mode: "run", runId: ctx.runId, other: null };
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
    const runs = runColors(ctx.runIds, new Map(ctx.runs.map((r) => [r.id, r.name])));
    const nameOf = (id: string): string => runs.find((r) => r.id === id)?.name ?? id;
    let shown = parseShown(ctx);
    let grouped = ctx.params.get("group") === null ? null : ctx.params.get("group") === "1";
    let order: "order" | "anomaly" = ctx.params.get("order") === "anomaly" ? "anomaly" : "order";
    let query = ctx.params.get("q") ?? "";
    let expanded = new Set<string>((ctx.params.get("open") ?? "").split(",").filter(Boolean));

    const heatHost = el("div", { attrs: { "data-testid": "health-heatmap" } });
    const heatMsg = el("div");
    const heatTitle = el("h3");
    const heatBox = el("section", "card", heatTitle, el("p", "muted hint", "Wheel: zoom · drag: pan · double-click: reset · click a cell: its step below · ▸ opens a block"), heatMsg, heatHost);
    const flowBox = el("section", "card");
    const search = el("input", {
      attrs: { type: "search", placeholder: "Search layers", value: query, "data-testid": "health-search", "aria-label": "Search layers" },
      on: { input: () => { query = search.value; ctx.setParams({ q: query || null }); redraw(); } },
    });
    const showOptions = [
      ...ctx.runIds.map((id) => ({ value: `run:${id}`, label: nameOf(id) })),
      ...ctx.runIds.slice(1).map((id) => ({ value: `diff:${id}`, label: `difference: ${nameOf(ctx.runId)} − ${nameOf(id)}` })),
    ];
    const groupBox = checkbox("Group by block", grouped ?? false, (v) => { grouped = v; ctx.setParams({ group: v ? 1 : 0 }); redraw(); }, "health-group");
    const bulk = (open: boolean): HTMLButtonElement => el("button", { attrs: { type: "button", "data-testid": open ? "health-expand-all" : "health-collapse-all" }, on: { click: () => {
      expanded = open && current ? new Set(blockIds(current.layers)) : new Set();
      ctx.setParams({ open: null });
      redraw();
    } } }, open ? "Expand all" : "Collapse all");
    const zoomBtn = (label: string, testid: string, act: () => void): HTMLButtonElement => el("button", { attrs: { type: "button", "data-testid": testid, title: label }, on: { click: act } }, label);
    append(
      container,
      toolbar(
        select("Statistic", choices.map((c) => ({ value: c.id, label: c.label })), stat.id, (v) => {
          stat = choices.find((c) => c.id === v) ?? stat;
          ctx.setParams({ stat: stat.id });
          void load();
        }, "health-stat"),
        showOptions.length > 1 ? select("Show", showOptions, `${shown.mode}:${shown.other ?? shown.runId}`, (v) => {
          ctx.setParams({ show: v });
          shown = parseShown(ctx);
          void load();
        }, "health-show") : null,
        select("Order", [{ value: "order", label: "forward order" }, { value: "anomaly", label: "most anomalous first" }], order, (v) => {
          order = v === "anomaly" ? "anomaly" : "order";
          ctx.setParams({ order: order === "order" ? null : order });
          redraw();
        }, "health-order"),
        groupBox,
        el("label", "control", el("span", null, "Layers"), search),
        bulk(true), bulk(false),
        zoomBtn("+", "heat-zoom-in", () => heat.zoomBy(0.5)), zoomBtn("−", "heat-zoom-out", () => heat.zoomBy(2)), zoomBtn("Reset zoom", "heat-zoom-reset", () => heat.resetZoom()),
      ),
      heatBox,
      flowBox,
    );

    // One request per run, matrix and data version: the heatmap and the gradient flow share them.
    let cache = new Map<string, Promise<StatMatrix>>();
    const matrix = (runId: string, kind: string, field: string): Promise<StatMatrix> => {
      const key = `${runId}/${kind}/${field}`;
      let p = cache.get(key);
      if (!p) {
        p = ctx.api.statMatrix(runId, kind, field, MAX_STEPS);
        cache.set(key, p);
        p.catch(() => cache.delete(key));
      }
      return p;
    };

    const heat = new CanvasHeatmap(heatHost, ctx.onDispose);
    let current: StatMatrix | null = null; // what the heatmap shows (a run's matrix or a difference)
    let parts: { a: StatMatrix; b: StatMatrix | null } | null = null;
    let rows: Row[] = [];

    function describe(row: Row, si: number): string {
      const step = current?.steps[si];
      const what = row.group ? `${row.label} (mean of ${row.layers.length} layers)` : row.label;
      const v = row.values[si];
      if (shown.mode !== "diff" || !parts?.b) {
        const text = v === null || v === undefined ? "not recorded" : v === 0 && stat.log ? "0 (exactly)" : formatNumber(v, 4);
        return `${what}\nstep ${step}\n${stat.label}: ${text}`;
      }
      const at = (m: StatMatrix): string => {
        if (row.group) return "";
        const i = m.layers.indexOf(row.id);
        const j = nearestStepIndex(m.steps, step ?? 0);
        const x = i < 0 ? null : m.values[i]?.[j];
        return `${x === null || x === undefined ? "not recorded" : formatNumber(x, 4)} (step ${m.steps[j]})`;
      };
      const d = v === null || v === undefined ? "not comparable" : Number.isFinite(v) ? formatNumber(v, 3) : `${v > 0 ? "+∞" : "−∞"} (one run is exactly 0 or non-finite)`;
      const unit = stat.log ? "log10 ratio" : "difference";
      return [what, `step ${step}`, `${nameOf(ctx.runId)}: ${at(parts.a)}`, `${nameOf(shown.other ?? "")}: ${at(parts.b)}`, `${unit}: ${d}`].filter((l) => !l.endsWith(": ")).join("\n");
    }

    function redraw(): void {
      if (!current) return;
      const group = grouped ?? groupByDefault(current.layers);
      groupBox.querySelector("input")!.checked = group;
      const diff = shown.mode === "diff";
      rows = buildRows(current, { grouped: group, expanded, sort: order, query, log: stat.log && !diff, scoring: diff || !stat.log ? "magnitude" : "deviation" });
      clear(heatTitle);
      append(heatTitle, diff ? `${stat.label}: ${nameOf(ctx.runId)} vs ${nameOf(shown.other ?? "")} (${stat.log ? "log10 of the ratio; red: this run higher" : "this run minus the other"})` : `${stat.label} of ${nameOf(shown.runId)}, layers × steps`);
      heat.set(rows, current.steps, {
        label: diff ? `${stat.label} difference` : stat.label,
        scale: { kind: diff ? "diverging" : "sequential", log: stat.log && !diff },
        highlight,
        describe,
        onPick: (step) => void pickStep(step),
        onToggle: (row) => {
          if (expanded.has(row.id)) expanded.delete(row.id);
          else expanded.add(row.id);
          ctx.setParams({ open: [...expanded].join(",") || null });
          redraw();
        },
      });
      void drawFlowBox();
    }

    async function load(): Promise<void> {
      clear(heatMsg);
      try {
        const a = await matrix(shown.runId, stat.kind, stat.field);
        const b = shown.other ? await matrix(shown.other, stat.kind, stat.field) : null;
        if (ctx.signal.aborted) return;
        parts = { a, b };
        current = b ? diffMatrix(a, b, stat.log) : a;
        heatHost.hidden = false;
        redraw();
      } catch (err) {
        heatHost.hidden = true;
        current = null;
        heatMsg.appendChild(isNotRecorded(err) ? notRecorded(`${stat.label} of ${nameOf(shown.other ?? shown.runId)}`, healthView.hint) : errorBox((err as Error).message));
        void drawFlowBox();
      }
    }

    // ---- gradient flow: per-row gradient norm at one step, for the route's run and compared ones ----
    let flow: Chart | undefined;
    let flowSlider: HTMLInputElement | undefined;
    let flowSteps: number[] = [];
    let flowStep: number | null = ctx.params.get("step") === null ? null : Number(ctx.params.get("step"));
    async function flowData(step: number | null): Promise<void> {
      if (!flow) return;
      const ids = shown.mode === "diff" && shown.other ? [ctx.runId, shown.other] : [shown.runId];
      const mats = await Promise.all(ids.map((id) => matrix(id, "grad", "norm").catch(() => null)));
      if (ctx.signal.aborted) return;
      const base = mats[0];
      if (!base || !base.steps.length) return;
      flowSteps = base.steps;
      const si = step === null ? base.steps.length - 1 : nearestStepIndex(base.steps, step);
      flowStep = base.steps[si] ?? null;
      if (flowSlider) {
        flowSlider.max = String(base.steps.length - 1);
        flowSlider.value = String(si);
        const out = flowSlider.parentElement?.querySelector("output");
        if (out) out.textContent = String(flowStep ?? "");
      }
      const labels = rows.length && current?.kind === "grad" ? rows : buildRows(base, { grouped: grouped ?? groupByDefault(base.layers), expanded, sort: "order", query, log: true, scoring: "deviation" });
      const series = mats.map((m, k) => {
        const id = ids[k] as string;
        const color = runs.find((r) => r.id === id)?.color ?? (PALETTE[k] as string);
        if (!m) return { name: nameOf(id), color, values: labels.map(() => null) };
        const j = nearestStepIndex(m.steps, flowStep ?? 0);
        const rowsOf = buildRows(m, { grouped: labels.some((r) => r.group), expanded, sort: "order", query, log: true, scoring: "deviation" });
        const byId = new Map(rowsOf.map((r) => [r.id, r.values[j] ?? null]));
        return { name: nameOf(id), color, values: labels.map((r) => byId.get(r.id) ?? null) };
      });
      drawFlow(flow, labels.map((r) => r.label), series, highlight, hex(ZERO));
    }
    async function pickStep(step: number): Promise<void> {
      ctx.setParams({ step });
      await flowData(step);
    }
    async function drawFlowBox(): Promise<void> {
      if (!ctx.run.kinds.includes("grad")) {
        clear(flowBox);
        append(flowBox, el("h3", null, "Gradient flow"), notRecorded("Gradients", "run.watch(model) and loss.backward()"));
        return;
      }
      if (!flow) {
        const host = el("div", { attrs: { "data-testid": "gradient-flow" } });
        const stepSlider = slider("Step", { min: 0, max: 0, step: 1, value: 0 }, (v) => {
          void flowData(flowSteps[v] ?? null);
          ctx.setParams({ step: flowSteps[v] ?? null });
        }, (v) => String(flowSteps[v] ?? v), "flow-step");
        append(flowBox, el("h3", null, "Gradient flow (gradient norm of each row above, at one step)"), toolbar(stepSlider), host);
        flow = createChart(host, ctx.onDispose, "gradient-flow");
        flowSlider = stepSlider.querySelector("input") as HTMLInputElement;
      }
      await flowData(flowStep);
    }

    await load();
    return {
      refresh: async () => {
        cache = new Map();
        await load();
      },
    };
  },
};
