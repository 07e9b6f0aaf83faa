// Attention: a layer x head heatmap of one head statistic at a step (step slider), one head over
// steps, and the attention pattern of the probe batch for any (layer, head) at a stored step.
import { isNotRecorded, type AttentionPattern, type HeadMatrix, type TransformerInfo } from "../api";
import { BASE, createChart, RAMP, type Chart } from "../charts/echarts";
import { append, clear, el, errorBox, notRecorded, select, slider, toolbar } from "../dom";
import { headGrid, headRange, headSeries, nearestIndex, patternCells, tokenLabels } from "../lib/attention";
import { formatNumber } from "../lib/format";
import type { ViewContext, ViewModule } from "./types";

interface HeadStat {
  id: string;
  label: string;
  log: boolean;
  /** The low end of the colour scale (null: the lowest value recorded). */
  floor: number | null;
}

/** The head statistics the heatmap offers (HEAD_FIELDS of the store). */
export const HEAD_STATS: readonly HeadStat[] = [
  { id: "entropy_mean", label: "Attention entropy (mean over queries, nats)", log: false, floor: 0 },
  { id: "entropy_min", label: "Attention entropy (min over queries, nats)", log: false, floor: 0 },
  { id: "max_weight", label: "Largest attention weight", log: false, floor: 0 },
  { id: "first_share", label: "Attention on the first token", log: false, floor: 0 },
  { id: "max_logit", label: "Max |q·k|/√d", log: true, floor: null },
];

const HINT = "run.watch(model) on a model with attention";
const PROBE_HINT = "run.watch(model, probe=batch, tokens=[...])";
const MAX_STEPS = 500;

function describeInfo(info: TransformerInfo): HTMLElement {
  const kinds = new Map<string, number>();
  for (const a of info.attention) kinds.set(`${a.type} via ${a.via}`, (kinds.get(`${a.type} via ${a.via}`) ?? 0) + 1);
  const seen = [...kinds].map(([k, n]) => `${n} × ${k}`).join(", ");
  return el(
    "p",
    { class: "muted", attrs: { "data-testid": "attention-info" } },
    `Recognised ${info.attention.length} attention module(s) (${seen || "none"}) in ${info.blocks.length} block(s).`,
    info.unrecognised.length ? ` Not recognised: ${info.unrecognised.slice(0, 6).join(", ")}${info.unrecognised.length > 6 ? " …" : ""}.` : "",
    info.note ? ` ${info.note}.` : "",
  );
}

function drawGrid(chart: Chart, m: HeadMatrix, si: number, stat: HeadStat, picked: [number, number] | null): void {
  const maxHeads = Math.max(1, ...m.heads);
  const [lo, hi] = headRange(m, stat.log, stat.floor);
  const show = (v: number): string => formatNumber(stat.log ? Math.pow(10, v) : v, 3);
  chart.setOption(
    {
      ...BASE,
      grid: { left: 8, right: 90, top: 8, bottom: 36, containLabel: true },
      tooltip: {
        renderMode: "richText",
        formatter: (p: { data: [number, number, number | string] }) =>
          `${m.modules[p.data[1]] ?? ""}\nhead ${p.data[0]}\n${stat.label}: ${typeof p.data[2] === "number" ? show(p.data[2]) : "not recorded"}`,
      },
      xAxis: { type: "category", name: "head", nameLocation: "middle", nameGap: 24, data: Array.from({ length: maxHeads }, (_, h) => String(h)), splitArea: { show: true } },
      yAxis: { type: "category", inverse: true, data: m.modules, axisLabel: { formatter: (v: string) => (v.length > 28 ? `…${v.slice(-27)}` : v) } },
      visualMap: { min: lo, max: hi, calculable: true, orient: "vertical", right: 0, top: "middle", itemHeight: 160, inRange: { color: RAMP }, formatter: (v: number) => show(v) },
      series: [
        {
          type: "heatmap",
          data: headGrid(m, si, stat.log).map(([h, mi, v]) => [h, mi, v ?? "-"]),
          itemStyle: { borderColor: "#fff", borderWidth: 1 },
          markPoint: undefined,
          emphasis: { itemStyle: { borderColor: "#000", borderWidth: 2 } },
        },
        ...(picked ? [{ type: "scatter", symbol: "rect", symbolSize: 10, itemStyle: { color: "transparent", borderColor: "#d62728", borderWidth: 2 }, data: [[picked[1], picked[0]]], silent: true, tooltip: { show: false } }] : []),
      ],
    },
    { notMerge: true },
  );
}

/** The grid's extremes at one step, as text (also what the browser tests read). */
function gridCaption(m: HeadMatrix, si: number, stat: HeadStat): string {
  const cells = headGrid(m, si).filter((c): c is [number, number, number] => c[2] !== null);
  if (!cells.length) return `step ${m.steps[si] ?? "–"}: not recorded`;
  const lo = cells.reduce((a, b) => (b[2] < a[2] ? b : a));
  const hi = cells.reduce((a, b) => (b[2] > a[2] ? b : a));
  const name = (c: [number, number, number]): string => `${m.modules[c[1]]} head ${c[0]} (${formatNumber(c[2], 3)})`;
  return `step ${m.steps[si]} · ${stat.label} · lowest ${name(lo)} · highest ${name(hi)}`;
}

function drawSeries(chart: Chart, m: HeadMatrix, mi: number, head: number, stat: HeadStat): void {
  chart.setOption(
    {
      ...BASE,
      grid: { left: 8, right: 36, top: 28, bottom: 28, containLabel: true },
      title: { text: `${m.modules[mi] ?? ""} head ${head}`, textStyle: { fontSize: 12 } },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v: unknown) => (typeof v === "number" ? formatNumber(v, 4) : "–") },
      xAxis: { type: "value", name: "step", min: "dataMin", max: "dataMax" },
      yAxis: { type: stat.log ? "log" : "value", name: stat.label, nameTextStyle: { align: "left" }, scale: true },
      series: [{ type: "line", showSymbol: true, symbolSize: 4, connectNulls: false, data: headSeries(m, mi, head).filter((p) => !stat.log || (p[1] ?? 0) > 0) }],
    },
    { notMerge: true },
  );
}

function drawPattern(chart: Chart, p: AttentionPattern): void {
  const n = p.values.length;
  const keys = Math.max(0, ...p.values.map((r) => r.length));
  const qLabels = tokenLabels(p.tokens, n);
  const kLabels = tokenLabels(p.tokens, keys);
  chart.setOption(
    {
      ...BASE,
      grid: { left: 8, right: 80, top: 8, bottom: 8, containLabel: true },
      tooltip: {
        renderMode: "richText",
        formatter: (x: { data: [number, number, number] }) => `query ${qLabels[x.data[1]]}\nkey ${kLabels[x.data[0]]}\nweight ${formatNumber(x.data[2], 3)}`,
      },
      xAxis: { type: "category", name: "key", position: "top", data: kLabels, axisLabel: { rotate: 90, interval: keys > 48 ? "auto" : 0, fontSize: 9 } },
      yAxis: { type: "category", name: "query", inverse: true, data: qLabels, axisLabel: { interval: n > 48 ? "auto" : 0, fontSize: 9 } },
      visualMap: { min: 0, max: 1, calculable: true, orient: "vertical", right: 0, top: "middle", itemHeight: 160, inRange: { color: ["#ffffff", "#6baed6", "#08306b"] } },
      series: [{ type: "heatmap", data: patternCells(p.values), progressive: 0 }],
    },
    { notMerge: true },
  );
}

function patternCaption(p: AttentionPattern): string {
  // Queries that see more than one key (a causal first query sees only itself).
  const rows = p.values.filter((r) => r.filter((v) => v !== null && v > 0).length > 1);
  const first = rows.reduce((s, r) => s + (r[0] ?? 0), 0) / Math.max(1, rows.length);
  return `${p.module} head ${p.head ?? 0} at step ${p.step} · ${p.values.length} queries · mean weight on the first token ${formatNumber(first, 3)}`;
}

export const attentionView: ViewModule = {
  id: "attention",
  title: "Attention",
  requires: [{ what: "transformer" }],
  hint: HINT,
  async render(container: HTMLElement, ctx: ViewContext) {
    let info: TransformerInfo;
    try {
      info = await ctx.api.transformerInfo(ctx.runId);
    } catch (err) {
      container.appendChild(isNotRecorded(err) ? notRecorded("Attention", HINT) : errorBox((err as Error).message));
      return;
    }
    container.appendChild(describeInfo(info));
    if (!info.attention.length) {
      container.appendChild(notRecorded("Attention heads", HINT));
      return;
    }
    let stat = HEAD_STATS.find((s) => s.id === ctx.params.get("stat")) ?? (HEAD_STATS[0] as HeadStat);
    const modules = info.attention.map((a) => a.name);
    let mi = Math.max(0, modules.indexOf(ctx.params.get("module") ?? ""));
    let head = Number(ctx.params.get("head") ?? 0) || 0;

    const gridHost = el("div", { class: "chart tall", attrs: { "data-testid": "head-heatmap" } });
    const caption = el("p", { class: "muted", attrs: { "data-testid": "head-caption" } });
    const gridMsg = el("div");
    const stepBox = el("span");
    const seriesHost = el("div", { class: "chart", attrs: { "data-testid": "head-series" } });
    const statSelect = select("Statistic", HEAD_STATS.map((s) => ({ value: s.id, label: s.label })), stat.id, (v) => {
      stat = HEAD_STATS.find((s) => s.id === v) ?? stat;
      ctx.setParams({ stat: stat.id });
      void loadGrid();
    }, "head-stat");
    append(
      container,
      el("section", "card", el("h3", null, "Layers × heads (click a head to follow it and see its pattern)"), toolbar(statSelect, stepBox), gridMsg, gridHost, caption),
      el("section", "card", el("h3", null, "The selected head over steps"), seriesHost),
    );
    const grid = createChart(gridHost, ctx.onDispose);
    const series = createChart(seriesHost, ctx.onDispose);
    let m: HeadMatrix | null = null;
    let si = 0;
    const cache = new Map<string, Promise<HeadMatrix>>();
    const matrix = (field: string): Promise<HeadMatrix> => {
      let p = cache.get(field);
      if (!p) {
        p = ctx.api.headMatrix(ctx.runId, field, MAX_STEPS);
        cache.set(field, p);
        p.catch(() => cache.delete(field));
      }
      return p;
    };

    const redraw = (): void => {
      if (!m) return;
      drawGrid(grid, m, si, stat, [mi, head]);
      caption.textContent = gridCaption(m, si, stat);
      drawSeries(series, m, mi, head, stat);
    };
    async function loadGrid(): Promise<void> {
      clear(gridMsg);
      try {
        m = await matrix(stat.id);
      } catch (err) {
        gridMsg.appendChild(isNotRecorded(err) ? notRecorded(stat.label, HINT) : errorBox((err as Error).message));
        return;
      }
      if (ctx.signal.aborted || !m.steps.length) return;
      const want = ctx.params.get("step");
      si = want === null ? m.steps.length - 1 : nearestIndex(m.steps, Number(want));
      const steps = m.steps;
      clear(stepBox);
      stepBox.appendChild(slider("Step", { min: 0, max: steps.length - 1, step: 1, value: si }, (v) => {
        si = v;
        ctx.setParams({ step: steps[v] });
        redraw();
      }, (v) => String(steps[v] ?? v), "head-step"));
      redraw();
    }
    grid.on("click", (p) => {
      const d = p.data as [number, number, unknown] | undefined;
      if (!Array.isArray(d) || p.seriesType !== "heatmap") return;
      [head, mi] = [d[0], d[1]];
      ctx.setParams({ module: modules[mi], head });
      redraw();
      void pattern.show(modules[mi] as string, head);
    });

    const pattern = patternCard(container, ctx, info, modules, (name, h) => {
      mi = Math.max(0, modules.indexOf(name));
      head = h;
      redraw();
    });
    await Promise.all([loadGrid(), pattern.show(modules[mi] as string, head)]);
    return { refresh: async () => { cache.clear(); await loadGrid(); } };
  },
};

/** The probe pattern card: layer, head and stored-step pickers over one pattern heatmap. */
function patternCard(container: HTMLElement, ctx: ViewContext, info: TransformerInfo, modules: string[],
                     onPick: (module: string, head: number) => void): { show(module: string, head: number): Promise<void> } {
  const box = el("section", "card");
  const bar = toolbar();
  const host = el("div", { class: "chart tall", attrs: { "data-testid": "attention-pattern" } });
  const caption = el("p", { class: "muted", attrs: { "data-testid": "pattern-caption" } });
  const msg = el("div");
  append(box, el("h3", null, "Attention pattern of the probe batch (queries down, keys across)"), bar, msg, host, caption);
  container.appendChild(box);
  if (info.probe_length === null || info.probe_length === undefined) {
    host.hidden = true;
    msg.appendChild(notRecorded("Attention patterns", PROBE_HINT));
    return { show: async () => undefined };
  }
  host.style.height = `${Math.min(1000, Math.max(320, 13 * info.probe_length + 110))}px`;
  const chart = createChart(host, ctx.onDispose);
  const headsOf = (m: string): number => info.attention.find((a) => a.name === m)?.heads ?? 1;
  const pstep = ctx.params.get("pstep");
  const current = { module: modules[0] as string, head: 0, step: pstep === null ? undefined : Number(pstep) as number | undefined };
  let steps: number[] = [];
  let generation = 0;
  const headBox = el("span");
  const stepBox = el("span");
  const moduleSelect = select("Layer", modules.map((n) => ({ value: n, label: n })), current.module, (v) => {
    const head = Math.min(current.head, headsOf(v) - 1);
    ctx.setParams({ module: v, head });
    onPick(v, head);
    void show(v, head);
  }, "pattern-module");
  append(bar, moduleSelect, headBox, stepBox);
  function controls(module: string, head: number, at: number, stored: number[]): void {
    const moduleInput = moduleSelect.querySelector("select") as HTMLSelectElement;
    moduleInput.value = module;
    clear(headBox);
    headBox.appendChild(select("Head", Array.from({ length: headsOf(module) }, (_, h) => ({ value: String(h), label: String(h) })), String(head), (v) => {
      ctx.setParams({ head: Number(v) });
      onPick(current.module, Number(v));
      void show(current.module, Number(v));
    }, "pattern-head"));
    if (stored.join() !== steps.join() || !stepBox.firstChild) {
      steps = stored;
      clear(stepBox);
      stepBox.appendChild(slider("Stored step", { min: 0, max: Math.max(0, steps.length - 1), step: 1, value: Math.max(0, steps.indexOf(at)) }, (v) => {
        ctx.setParams({ pstep: steps[v] });
        void show(current.module, current.head, steps[v]);
      }, (v) => String(steps[v] ?? v), "pattern-step"));
    }
  }
  async function show(module: string, head: number, step = current.step): Promise<void> {
    Object.assign(current, { module, head, step });
    const mine = ++generation;
    let p: AttentionPattern;
    try {
      p = await ctx.api.attentionPattern(ctx.runId, module, head, step);
    } catch (err) {
      if (mine !== generation) return;
      clear(msg);
      host.hidden = true;
      msg.appendChild(isNotRecorded(err) ? notRecorded("Attention pattern", PROBE_HINT) : errorBox((err as Error).message));
      return;
    }
    if (mine !== generation || ctx.signal.aborted) return;
    clear(msg);
    host.hidden = false;
    drawPattern(chart, p);
    caption.textContent = patternCaption(p);
    controls(module, head, p.step, p.steps);
  }
  return { show: (module, head) => show(module, head) };
}
