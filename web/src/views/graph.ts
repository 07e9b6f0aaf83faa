import { isNotRecorded, type Finding, type StatMatrix } from "../api";
import { download, fileName, svgToPng } from "../charts/export";
import { append, clear, el, errorBox, notRecorded, select, slider, toolbar } from "../dom";
import { LayoutCancelled, LayoutClient } from "../graph/client";
import { edgeTip, nodeTip } from "../graph/details";
import "../graph/graph.css";
import { htmlLegend, svgLegend } from "../graph/legend";
import { layoutInput } from "../graph/layoutInput";
import { GraphCanvas, type Decoration } from "../graph/render";
import { formatCount } from "../lib/format";
import {
  defaultDepth,
  expandedToDepth,
  findingsOnVisible,
  makeDivergingScale,
  makeScale,
  maxDepth,
  parseGraph,
  reveal,
  scaleColor,
  searchNodes,
  textOn,
  toggleExpanded,
  valuesOnVisible,
  visibleGraph,
  type ColorScale,
  type NodeValue,
} from "../lib/graphModel";
import { nearestStepIndex } from "../lib/heatmap";
import { diffMatrix } from "../lib/layerRows";
import { HEALTH_STATS } from "./health";
import type { ViewContext, ViewModule } from "./types";

const MAX_STEPS = 500;
const HINT = "run.watch(model) or run.log_graph(model, inputs)";
const KIND_COLOURING = "kind";

function lastRecordedStep(m: StatMatrix): number {
  for (let j = m.steps.length - 1; j > 0; j--) if (m.values.some((row) => row[j] !== null && row[j] !== undefined)) return j;
  return 0;
}

export const graphView: ViewModule = {
  id: "graph",
  title: "Graph",
  requires: [{ what: "graph" }],
  hint: HINT,
  async render(container, ctx: ViewContext) {
    let g = parseGraph(await ctx.api.graph(ctx.runId));
    if (g.nodes.length === 0) {
      container.appendChild(notRecorded("Graph", HINT));
      return;
    }
    const client = new LayoutClient();
    ctx.onDispose(() => client.dispose());

    // ---- state (view params in the hash: stat, step, layer, depth, q) ----
    const stats = HEALTH_STATS.filter((s) => ctx.run.kinds.includes(s.kind));
    const statParam = ctx.params.get("stat") ?? "";
    // "diff:<run id>:<stat id>": colour by this run's statistic minus a compared run's.
    const diffParam = /^diff:(.+):([a-z_]+)$/.exec(statParam);
    let diffWith: string | null = diffParam && ctx.runIds.includes(diffParam[1] as string) ? (diffParam[1] as string) : null;
    const wantStat = diffWith ? (diffParam?.[2] ?? "") : statParam;
    let stat = wantStat === KIND_COLOURING ? null : (stats.find((s) => s.id === wantStat) ?? stats[0] ?? null);
    const runName = (id: string): string => ctx.runs.find((r) => r.id === id)?.name ?? id;
    let depth = Number(ctx.params.get("depth") ?? NaN);
    if (!Number.isFinite(depth)) depth = defaultDepth(g);
    let expanded = expandedToDepth(g, depth);
    let vis = visibleGraph(g, expanded);
    let matrix: StatMatrix | null = null;
    let stepIdx = 0;
    // The step the user asked for (hash or slider); null: the latest recorded one.
    let wantStep: number | null = ctx.params.get("step") === null ? null : Number(ctx.params.get("step"));
    const showSlider = (on: boolean): void => void (stepSlider.style.display = on ? "" : "none");
    let findings: Finding[] = [];
    let query = ctx.params.get("q") ?? "";
    let matches: string[] = [];
    let matchIdx = -1;
    const layerParam = ctx.params.get("layer");
    let selected: string | null = layerParam === "<root>" ? (g.nodes.find((n) => n.kind === "input")?.id ?? null) : layerParam !== null && g.byId.has(layerParam) ? layerParam : null;
    if (selected) expanded = reveal(g, expanded, [selected]);

    // ---- DOM ----
    const status = el("div", { class: "graph-status", attrs: { "data-testid": "graph-status" } });
    const legendBox = el("div", { class: "graph-legend", attrs: { "data-testid": "graph-legend" } });
    const host = el("div", { class: "graph-host", attrs: { "data-testid": "graph-canvas" } });
    const layoutMsg = el("div");
    const tip = el("div", { class: "graph-tip", attrs: { role: "tooltip" } });
    const busy = el("div", "graph-busy", "Laying out…");
    tip.hidden = true;
    const searchCount = el("span", "graph-search-count");
    const search = el("input", {
      attrs: { type: "search", placeholder: "Search layer name or type", value: query, "data-testid": "graph-search", "aria-label": "Search layers" },
      on: {
        input: () => {
          query = search.value;
          ctx.setParams({ q: query || null });
          findMatches();
          paint();
        },
        keydown: (ev) => {
          if (ev.key !== "Enter") return;
          ev.preventDefault();
          void nextMatch(ev.shiftKey ? -1 : 1);
        },
      },
    });
    const depthOptions = Array.from({ length: maxDepth(g) + 1 }, (_, d) => ({ value: String(d), label: d === maxDepth(g) ? `${d} (all)` : String(d) }));
    const depthSel = select("Expand to depth", depthOptions, String(Math.min(depth, maxDepth(g))), (v) => {
      depth = Number(v);
      ctx.setParams({ depth });
      expanded = expandedToDepth(g, depth);
      void relayout(null);
    }, "graph-depth");
    const colourOptions = [
      { value: KIND_COLOURING, label: "Node kind" },
      ...stats.map((s) => ({ value: s.id, label: s.label })),
      ...ctx.runIds.slice(1).flatMap((id) => stats.map((s) => ({ value: `diff:${id}:${s.id}`, label: `${s.label}: this − ${runName(id)}` }))),
    ];
    const stepSlider = slider("Step", { min: 0, max: 0, step: 1, value: 0 }, (v) => {
      stepIdx = v;
      wantStep = matrix?.steps[v] ?? null;
      ctx.setParams({ step: wantStep });
      paint();
    }, (v) => String(matrix?.steps[v] ?? v), "graph-step");
    const stepInput = stepSlider.querySelector("input") as HTMLInputElement;
    const colourValue = stat ? (diffWith ? `diff:${diffWith}:${stat.id}` : stat.id) : KIND_COLOURING;
    const colourSel = select("Colour by", colourOptions, colourValue, (v) => {
      const m = /^diff:(.+):([a-z_]+)$/.exec(v);
      diffWith = m ? (m[1] as string) : null;
      stat = stats.find((s) => s.id === (m ? m[2] : v)) ?? null;
      ctx.setParams({ stat: v });
      void loadStat();
    }, "graph-color");
    const exportBtn = el("button", { attrs: { type: "button", "data-testid": "graph-export" }, on: { click: () => exportSvg() } }, "Export SVG");
    const exportPngBtn = el("button", { attrs: { type: "button", "data-testid": "graph-export-png" }, on: { click: () => void exportPng() } }, "Export PNG");
    const fitBtn = el("button", { attrs: { type: "button", "data-testid": "graph-fit" }, on: { click: () => canvas.fit() } }, "Fit");
    append(container, toolbar(el("span", "control", search, searchCount), depthSel, colourSel, stepSlider, fitBtn, exportBtn, exportPngBtn), status, legendBox, layoutMsg, host);
    host.append(tip, busy);

    const canvas = new GraphCanvas(host, {
      toggle: (id) => {
        const anchor = canvas.screenOf(id);
        expanded = toggleExpanded(g, expanded, id);
        void relayout(anchor ? { id, at: anchor } : null);
      },
      select: (id) => {
        selected = id;
        ctx.setParams({ layer: id });
        paint();
      },
      hover: (target, x, y) => showTip(target, x, y),
    });

    // ---- colouring, findings, search ----
    let values = new Map<string, NodeValue>();
    let scale: ColorScale | null = null;
    let matrixScale: ColorScale | null = null;
    let scaleOf: StatMatrix | null = null;
    let statProblem = "not recorded";
    function paint(): void {
      values = new Map();
      scale = null;
      if (stat && matrix && matrix.steps.length) {
        const perLayer = new Map<string, number>();
        matrix.layers.forEach((layer, i) => {
          const v = matrix?.values[i]?.[stepIdx];
          if (typeof v === "number") perLayer.set(layer, v);
        });
        const log = stat.log && !diffWith;
        values = valuesOnVisible(g, vis, perLayer, log);
        // one domain over every step, so colours compare across the slider
        if (scaleOf !== matrix) {
          matrixScale = diffWith ? makeDivergingScale(matrix.values.flat()) : makeScale(matrix.values.flat(), log);
          scaleOf = matrix;
        }
        scale = matrixScale;
        const label = diffWith ? `${stat.label}: ${ctx.run.name} − ${runName(diffWith)}${stat.log ? " (log10 ratio)" : ""}` : stat.label;
        htmlLegend(legendBox, label, scale, diffWith ? "red: this run higher · blue: lower · closed containers: mean" : "closed containers: mean over the layers inside");
      } else if (stat) {
        clear(legendBox);
        append(legendBox, el("span", "muted", `${stat.label}: ${statProblem}`));
      } else {
        clear(legendBox);
        const sw = (c: string, label: string): HTMLElement => el("span", null, el("span", { class: "swatch", attrs: { style: `background:${c}` } }), label);
        append(legendBox, sw("#e8f1fa", "module"), sw("#f3f4f6", "operation"), sw("#e6f4ea", "input / output"));
      }
      const onNodes = findingsOnVisible(g, vis, findings);
      const hits = new Set(matches.map((m) => vis.rep.get(m)).filter((x): x is string => x !== undefined));
      const deco = new Map<string, Decoration>();
      for (const v of vis.nodes) {
        const d: Decoration = {};
        const val = values.get(v.id);
        if (val && scale) {
          d.fill = scaleColor(scale, val.value);
          d.text = textOn(scale, val.value);
        }
        const f = onNodes.get(v.id);
        if (f) {
          d.severity = f.severity;
          d.findings = f.findings.length;
        }
        if (hits.has(v.id)) d.match = true;
        if (selected !== null && (v.id === selected || vis.rep.get(selected) === v.id)) d.selected = true;
        deco.set(v.id, d);
      }
      canvas.decorate(deco);
    }

    function findMatches(): void {
      matches = searchNodes(g, query);
      matchIdx = -1;
      searchCount.textContent = query.trim() ? `${matches.length} match${matches.length === 1 ? "" : "es"}` : "";
    }

    async function nextMatch(dir: number): Promise<void> {
      if (!matches.length) return;
      matchIdx = (matchIdx + dir + matches.length) % matches.length;
      const id = matches[matchIdx] as string;
      searchCount.textContent = `${matchIdx + 1} of ${matches.length}`;
      if (vis.rep.get(id) !== id) {
        expanded = reveal(g, expanded, [id]);
        await relayout({ id });
      } else canvas.centerOn(id);
    }

    function showTip(target: { node: string } | { edge: string } | null, x: number, y: number): void {
      if (!target) {
        tip.hidden = true;
        return;
      }
      clear(tip);
      if ("node" in target) {
        const n = g.byId.get(target.node);
        if (!n) return;
        const v = vis.nodes.find((x) => x.id === n.id);
        const onNode = findingsOnVisible(g, vis, findings).get(n.id);
        tip.appendChild(
          nodeTip({
            node: n,
            hidden: v?.hidden ?? 0,
            group: v?.group ?? false,
            stat: stat && !v?.group ? { label: diffWith ? `${stat.label} (this − ${runName(diffWith)})` : stat.label, step: matrix?.steps[stepIdx] ?? null, value: values.get(n.id) } : undefined,
            findings: onNode?.findings ?? [],
          }),
        );
      } else {
        const e = vis.edges.find((x) => x.id === target.edge);
        if (!e) return;
        tip.appendChild(edgeTip(e, g.byId.get(e.source), g.byId.get(e.target)));
      }
      tip.hidden = false;
      const r = host.getBoundingClientRect();
      const left = Math.min(x - r.left + 14, r.width - tip.offsetWidth - 6);
      const top = y - r.top + 14 + tip.offsetHeight > r.height ? y - r.top - tip.offsetHeight - 10 : y - r.top + 14;
      tip.style.left = `${Math.max(4, left)}px`;
      tip.style.top = `${Math.max(4, top)}px`;
    }

    // ---- layout ----
    let lastMs = 0;
    let first = true;
    async function relayout(focus: { id: string; at?: { x: number; y: number } } | null): Promise<void> {
      vis = visibleGraph(g, expanded);
      const { input, draw } = layoutInput(g, vis);
      busy.hidden = false;
      let out;
      try {
        out = await client.layout(input);
      } catch (err) {
        if (err instanceof LayoutCancelled || ctx.signal.aborted) return;
        // shown in place of the drawing; the toolbar stays usable (e.g. a smaller depth)
        busy.hidden = true;
        clear(layoutMsg);
        layoutMsg.appendChild(errorBox((err as Error).message));
        return;
      }
      if (ctx.signal.aborted) return;
      busy.hidden = true;
      clear(layoutMsg);
      lastMs = out.ms;
      canvas.draw(out.result, draw, vis.edges);
      canvas.svg.setAttribute("data-layout-ms", String(Math.round(out.ms)));
      canvas.svg.setAttribute("aria-label", `${g.model}: ${vis.nodes.length} of ${g.nodes.length} nodes`);
      paint();
      updateStatus();
      if (focus && canvas.centerOn(focus.id, focus.at)) return;
      if (first && selected && canvas.centerOn(vis.rep.get(selected) ?? selected)) {
        first = false;
        return;
      }
      if (first || !focus) canvas.fit();
      first = false;
    }

    function updateStatus(): void {
      clear(status);
      const t = g.totals;
      append(
        status,
        el("span", null, el("strong", null, g.model), ` · traced by ${g.tracer}`),
        el("span", null, `${vis.nodes.length} of ${g.nodes.length} nodes shown · ${g.edges.length} edges`),
        t.params ? el("span", null, `${formatCount(t.params)} parameters${t.trainableParams !== t.params ? ` (${formatCount(t.trainableParams)} trainable)` : ""}`) : null,
        t.flops ? el("span", null, `${formatCount(t.flops)} FLOPs per forward`) : null,
        el("span", { attrs: { "data-testid": "graph-layout-time" } }, `layout ${(lastMs / 1000).toFixed(2)} s`),
        g.notes.length ? el("details", null, el("summary", null, `${g.notes.length} note${g.notes.length > 1 ? "s" : ""}`), ...g.notes.map((n) => el("div", null, n))) : null,
      );
    }

    // ---- data: statistics and findings ----
    async function loadStat(): Promise<void> {
      matrix = null;
      statProblem = "not recorded";
      showSlider(false);
      const asked = stat;
      if (asked) {
        let m: StatMatrix | null = null;
        const other = diffWith;
        try {
          m = await ctx.api.statMatrix(ctx.runId, asked.kind, asked.field, MAX_STEPS);
          if (other) m = diffMatrix(m, await ctx.api.statMatrix(other, asked.kind, asked.field, MAX_STEPS), asked.log);
        } catch (err) {
          if (!isNotRecorded(err)) statProblem = `could not be loaded (${(err as Error).message})`;
          else if (other) statProblem = `not recorded in ${runName(other)}`;
          m = null;
        }
        // a later choice of statistic wins over a slower answer to an earlier one
        if (ctx.signal.aborted || stat !== asked || diffWith !== other) return;
        matrix = m;
        if (matrix && matrix.steps.length) {
          // the latest step with a value (a difference has none past the shorter run's end)
          const latest = lastRecordedStep(matrix);
          stepIdx = wantStep === null || !Number.isFinite(wantStep) ? latest : nearestStepIndex(matrix.steps, wantStep);
          stepInput.max = String(matrix.steps.length - 1);
          stepInput.value = String(stepIdx);
          const out = stepSlider.querySelector("output");
          if (out) out.textContent = String(matrix.steps[stepIdx]);
          showSlider(true);
        }
      }
      paint();
    }

    async function loadFindings(): Promise<void> {
      try {
        findings = (await ctx.api.findings(ctx.runId)).findings;
      } catch {
        findings = [];
      }
      if (!ctx.signal.aborted) paint();
    }

    function graphSvg(): string {
      const key = stat && scale ? svgLegend(diffWith ? `${stat.label}: this − ${runName(diffWith)}` : stat.label, scale, matrix?.steps[stepIdx] ?? null) : null;
      return canvas.exportSvg(`${g.model} (${ctx.run.name})`, key);
    }
    const fileBase = `${fileName(ctx.run.name) || "model"}-graph`;
    function exportSvg(): void {
      download(new Blob([graphSvg()], { type: "image/svg+xml" }), `${fileBase}.svg`);
    }
    async function exportPng(): Promise<void> {
      const text = graphSvg();
      const size = /viewBox="[-\d.]+ [-\d.]+ ([\d.]+) ([\d.]+)"/.exec(text);
      const [w, h] = size ? [Number(size[1]), Number(size[2])] : [host.clientWidth, host.clientHeight];
      // Very large graphs are scaled down to stay within what a canvas can hold.
      const k = Math.min(1, 8000 / Math.max(w, h, 1));
      download(await svgToPng(text, w * k, h * k), `${fileBase}.png`);
    }

    findMatches();
    showSlider(false);
    await relayout(null);
    await Promise.all([loadStat(), loadFindings()]);
    return {
      refresh: async () => {
        const next = parseGraph(await ctx.api.graph(ctx.runId));
        const changed = next.nodes.length !== g.nodes.length || next.edges.length !== g.edges.length || next.nodes.some((n, i) => n.id !== g.nodes[i]?.id);
        if (changed) {
          g = next;
          expanded = new Set([...expanded].filter((id) => g.byId.has(id)));
          findMatches();
          await relayout(null);
        }
        await Promise.all([loadStat(), loadFindings()]);
      },
    };
  },
};
