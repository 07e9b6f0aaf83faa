// Embeddings: 2-D/3-D scatter of a layer's projected activations, coloured by label, with hover
// thumbnails (one sprite PNG per artifact), a search box and nearest-neighbour lists. 3-D
// embeddings are shown as a rotatable projection (two angle sliders).
import type { Artifact, ArtifactInfo } from "../api";
import { BASE, createChart, PALETTE, type Chart } from "../charts/echarts";
import { append, clear, el, slider, toolbar } from "../dom";
import { artifactSelect, artifactsOf, chosen, matrix, numberList, stringList } from "./explainShared";
import type { ViewContext, ViewModule } from "./types";

interface SpriteInfo { key: string; cols: number; width: number; height: number }

interface EmbeddingData {
  layer: string | null;
  method: string;
  dims: number;
  points: number[][];
  labels: number[] | null;
  classes: string[] | null;
  neighbors: number[][];
  sprite: SpriteInfo | null;
  explained: number[] | null;
}

const HINT = "run.log_artifact(ds.explain.embed(model, X, layer=..., labels=y))";
const THUMB = 56;
const COLORS = [...PALETTE, "#8c564b", "#7f7f7f", "#bcbd22", "#17becf", "#9467bd", "#ff7f0e"];

function asData(a: Artifact): EmbeddingData {
  const d = a.data as Record<string, unknown>;
  const s = d.sprite as Record<string, unknown> | null | undefined;
  return {
    layer: typeof d.layer === "string" ? d.layer : null,
    method: String(d.method ?? "?"),
    dims: Number(d.dims ?? 2),
    points: matrix(d.points),
    labels: Array.isArray(d.labels) ? numberList(d.labels) : null,
    classes: Array.isArray(d.classes) ? stringList(d.classes) : null,
    neighbors: matrix(d.neighbors),
    sprite: s && typeof s.key === "string" ? { key: s.key, cols: Number(s.cols), width: Number(s.width), height: Number(s.height) } : null,
    explained: Array.isArray(d.explained_variance) ? numberList(d.explained_variance) : null,
  };
}

/** 2-D screen coordinates of a point: itself in 2-D, a rotated projection in 3-D. */
export function project(p: readonly number[], yaw: number, pitch: number): [number, number] {
  const [x = 0, y = 0, z = 0] = p;
  if (p.length < 3) return [x, y];
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const x1 = x * cy + z * sy;
  const z1 = -x * sy + z * cy;
  return [x1, y * cp - z1 * sp];
}

function className(d: EmbeddingData, label: number | undefined): string {
  if (label === undefined || !Number.isFinite(label)) return "";
  return d.classes?.[label] ?? String(label);
}

class Thumbs {
  private img: HTMLImageElement | null = null;
  constructor(ctx: ViewContext, info: ArtifactInfo, private readonly sprite: SpriteInfo | null) {
    if (sprite) {
      this.img = new Image();
      this.img.src = ctx.api.blobUrl(ctx.runId, info.id, sprite.key);
    }
  }
  /** A canvas with point i's thumbnail (empty when the artifact has none). */
  draw(i: number, size = THUMB): HTMLCanvasElement {
    const c = el("canvas", { attrs: { width: size, height: size, "data-testid": "embedding-thumb" } });
    const s = this.sprite;
    const img = this.img;
    if (!s || !img) return c;
    const paint = (): void => {
      const g = c.getContext("2d");
      if (!g) return;
      g.imageSmoothingEnabled = false;
      const col = i % s.cols, row = Math.floor(i / s.cols);
      g.drawImage(img, col * s.width, row * s.height, s.width, s.height, 0, 0, size, size);
    };
    if (img.complete) paint();
    else img.addEventListener("load", paint, { once: true });
    return c;
  }
}

function drawChart(chart: Chart, d: EmbeddingData, angles: [number, number], highlight: Set<number> | null, selected: number | null): void {
  const xy = d.points.map((p) => project(p, angles[0], angles[1]));
  const groups = new Map<number, number[]>();
  d.points.forEach((_, i) => {
    const lab = d.labels?.[i] ?? -1;
    const list = groups.get(lab) ?? [];
    list.push(i);
    groups.set(lab, list);
  });
  const large = d.points.length > 5000;
  const series: Record<string, unknown>[] = [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([lab, idx]) => ({
    type: "scatter",
    name: lab < 0 ? "points" : className(d, lab),
    large,
    symbolSize: 5,
    itemStyle: { color: lab < 0 ? "#777" : COLORS[lab % COLORS.length], opacity: highlight ? 0.12 : 0.8 },
    data: idx.map((i) => [xy[i]?.[0] ?? 0, xy[i]?.[1] ?? 0, i]),
  }));
  if (highlight) {
    series.push({ type: "scatter", name: "match", symbolSize: 7, itemStyle: { color: "#000" }, data: [...highlight].map((i) => [xy[i]?.[0] ?? 0, xy[i]?.[1] ?? 0, i]) });
  }
  if (selected !== null) {
    const nb = d.neighbors[selected] ?? [];
    series.push({ type: "scatter", name: "neighbours", symbolSize: 11, itemStyle: { color: "rgba(0,0,0,0)", borderColor: "#000", borderWidth: 1.5 }, data: nb.map((i) => [xy[i]?.[0] ?? 0, xy[i]?.[1] ?? 0, i]) });
    series.push({ type: "scatter", name: "selected", symbol: "diamond", symbolSize: 16, itemStyle: { color: "#000" }, data: [[xy[selected]?.[0] ?? 0, xy[selected]?.[1] ?? 0, selected]] });
  }
  chart.setOption({
    ...BASE,
    grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
    legend: { type: "scroll", top: 0 },
    tooltip: {
      renderMode: "richText",
      formatter: (p: { value: [number, number, number] }) => `#${p.value[2]} ${className(d, d.labels?.[p.value[2]])}`,
    },
    xAxis: { type: "value", scale: true, splitLine: { show: false } },
    yAxis: { type: "value", scale: true, splitLine: { show: false } },
    series,
  }, { notMerge: true });
}

export const embeddingsView: ViewModule = {
  id: "embeddings",
  title: "Embeddings",
  requires: [{ what: "artifacts", kinds: ["embedding"] }],
  hint: HINT,
  async render(container, ctx) {
    const infos = await artifactsOf(ctx, "embedding", HINT);
    let current = chosen(ctx, infos);
    const angles: [number, number] = [0.6, 0.4];
    const search = el("input", { attrs: { type: "search", placeholder: "class name or #index", "data-testid": "embedding-search" } });
    const controls = el("span");
    const title = el("h3");
    const host = el("div", { class: "tall", attrs: { "data-testid": "embedding-chart" } });
    const side = el("aside", { attrs: { "data-testid": "embedding-details" } });
    side.style.minWidth = "220px";
    side.style.maxWidth = "320px";
    // The chart's export bar goes above it, inside the plot column (not beside it in the row).
    const plot = el("div", null, host);
    plot.style.flex = "1";
    plot.style.minWidth = "0";
    const row = el("div", null, plot, side);
    row.style.display = "flex";
    row.style.gap = "12px";
    append(container, toolbar(artifactSelect(ctx, "Embedding", infos, current, (a) => { current = a; void load(); }, "embedding-artifact"), el("label", "control", el("span", null, "Search"), search), controls), el("section", "card", title, row));
    const chart = createChart(host, ctx.onDispose);
    let d: EmbeddingData | null = null;
    let thumbs: Thumbs | null = null;
    let highlight: Set<number> | null = null;
    let selected: number | null = null;
    const redraw = (): void => { if (d) drawChart(chart, d, angles, highlight, selected); };

    function details(i: number, pinned: boolean): void {
      if (!d || !thumbs) return;
      clear(side);
      append(side, el("div", null, el("strong", null, `${pinned ? "selected" : "point"} #${i} ${className(d, d.labels?.[i])}`)), el("div", null, thumbs.draw(i, 96)));
      const nb = d.neighbors[i] ?? [];
      if (nb.length) {
        append(side, el("div", null, `nearest in ${d.layer ?? "input"} space:`));
        const list = el("div", { attrs: { "data-testid": "embedding-neighbours" } });
        list.style.display = "flex";
        list.style.flexWrap = "wrap";
        list.style.gap = "4px";
        for (const j of nb) {
          const item = el("div", { title: `#${j} ${className(d, d.labels?.[j])}`, on: { click: () => select(j) } }, thumbs.draw(j, 40), el("small", null, `#${j} ${className(d, d.labels?.[j])}`));
          item.style.cursor = "pointer";
          list.appendChild(item);
        }
        side.appendChild(list);
      }
    }
    function select(i: number | null): void {
      selected = i;
      redraw();
      if (i !== null) details(i, true);
    }
    chart.on("mouseover", (p: unknown) => {
      const v = (p as { value?: unknown }).value;
      if (Array.isArray(v) && typeof v[2] === "number" && selected === null) details(v[2], false);
    });
    chart.on("click", (p: unknown) => {
      const v = (p as { value?: unknown }).value;
      if (Array.isArray(v) && typeof v[2] === "number") select(v[2]);
    });
    search.addEventListener("input", () => {
      if (!d) return;
      const q = search.value.trim().toLowerCase();
      highlight = null;
      if (q.startsWith("#")) {
        const i = Number(q.slice(1));
        if (Number.isInteger(i) && i >= 0 && i < d.points.length) { select(i); return; }
      } else if (q) {
        const hits = new Set<number>();
        d.points.forEach((_, i) => { if (className(d as EmbeddingData, d?.labels?.[i]).toLowerCase() === q) hits.add(i); });
        highlight = hits;
      }
      redraw();
    });

    async function load(): Promise<void> {
      const art = await ctx.api.artifact(ctx.runId, current.id);
      if (ctx.signal.aborted) return;
      d = asData(art);
      thumbs = new Thumbs(ctx, current, d.sprite);
      selected = null;
      highlight = null;
      clear(title);
      const variance = d.explained ? ` (explained variance ${d.explained.map((v) => `${(100 * v).toFixed(1)}%`).join(", ")})` : "";
      append(title, `${d.method.toUpperCase()} of `, el("code", "layer-name", d.layer ?? "inputs"), ` · ${d.points.length} points · ${d.dims}-D${variance}`);
      clear(controls);
      if (d.dims === 3) {
        append(controls,
          slider("Yaw", { min: -3.14, max: 3.14, step: 0.02, value: angles[0] }, (v) => { angles[0] = v; redraw(); }, (v) => v.toFixed(2), "embedding-yaw"),
          slider("Pitch", { min: -1.57, max: 1.57, step: 0.02, value: angles[1] }, (v) => { angles[1] = v; redraw(); }, (v) => v.toFixed(2), "embedding-pitch"));
      }
      clear(side);
      append(side, el("small", null, "Hover a point for its thumbnail; click it for its nearest neighbours."));
      redraw();
    }
    await load();
  },
};
