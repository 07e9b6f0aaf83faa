import { el } from "../dom";
import { formatNumber } from "../lib/format";
import { cellColor, classify, makeHeatScale, NONFINITE, NOT_RECORDED, rampColor, rampValue, ZERO, type HeatScale, type RGB } from "../lib/heatScale";
import { labelledRows, type Row } from "../lib/layerRows";
import { addExportBar, canvasPng, fileName, type Exportable } from "./export";
import { heatmapSvg, type SvgPlot } from "./heatmapSvg";

const LABEL_W = 230;
const AXIS_H = 34;
const LEGEND_W = 96;
const FONT = "11px system-ui, sans-serif";
const MAX_H = 900;

export interface HeatmapOptions {
  label: string;
  scale: { kind: "sequential" | "diverging"; log: boolean };
  highlight?: string | null;
  onPick?: (step: number, row: Row) => void;
  onToggle?: (row: Row) => void;
  /** Tooltip text of one cell (default: label and value). */
  describe?: (row: Row, si: number) => string;
}

/** The visible part of the matrix, in cells: columns [x0, x1), rows [y0, y1). */
interface Window {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/**
 * Rows x steps heatmap drawn straight onto a canvas: one pixel per cell in an offscreen image,
 * scaled without smoothing (300 layers x 500 steps draw in milliseconds, where a chart library
 * spends seconds on 150,000 rectangles). Wheel zooms around the pointer, dragging pans,
 * double-click resets; row labels are DOM buttons (blocks expand and collapse); hover shows the
 * cell, click picks its step. Exports PNG and SVG.
 */
export class CanvasHeatmap {
  private readonly canvas = el("canvas", { attrs: { "data-testid": "heat-canvas" } });
  private readonly labels = el("div", { class: "heat-labels", attrs: { "data-testid": "heat-labels" } });
  private readonly tip = el("div", { class: "heat-tip", attrs: { role: "tooltip" } });
  private rows: Row[] = [];
  private steps: number[] = [];
  private opts: HeatmapOptions = { label: "", scale: { kind: "sequential", log: false } };
  private scale: HeatScale = { kind: "sequential", log: false, min: 0, max: 1 };
  private image: HTMLCanvasElement | null = null;
  private win: Window = { x0: 0, x1: 1, y0: 0, y1: 1 };
  private drag: { x: number; y: number; win: Window; moved: boolean } | null = null;
  private specials = new Set<string>();
  private readonly ro: ResizeObserver;
  private readonly box: HTMLElement;

  constructor(private readonly host: HTMLElement, onDispose: (fn: () => void) => void) {
    host.classList.add("heatmap");
    this.box = el("div", "heat-box", this.labels, this.canvas, this.tip);
    host.append(this.box);
    this.tip.hidden = true;
    this.canvas.addEventListener("mousemove", (e) => this.move(e));
    this.canvas.addEventListener("mouseleave", () => {
      this.tip.hidden = true;
      this.drag = null;
    });
    this.canvas.addEventListener("mousedown", (e) => (this.drag = { x: e.clientX, y: e.clientY, win: { ...this.win }, moved: false }));
    this.canvas.addEventListener("mouseup", (e) => this.release(e));
    this.canvas.addEventListener("dblclick", () => this.resetZoom());
    this.canvas.addEventListener("wheel", (e) => this.wheel(e), { passive: false });
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(host);
    onDispose(() => this.ro.disconnect());
    addExportBar(host, () => this.exportable());
  }

  /** Show `rows` over `steps`; the zoom window is kept when the shape is unchanged. */
  set(rows: Row[], steps: number[], opts: HeatmapOptions): void {
    const same = rows.length === this.rows.length && steps.length === this.steps.length;
    this.rows = rows;
    this.steps = steps;
    this.opts = opts;
    this.scale = makeHeatScale(rows.map((r) => r.values), opts.scale.kind, opts.scale.log);
    if (!same) this.win = { x0: 0, x1: steps.length, y0: 0, y1: rows.length };
    this.image = this.render();
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", `${opts.label}: ${rows.length} rows × ${steps.length} steps`);
    this.host.dataset.rows = String(rows.length);
    this.host.dataset.steps = String(steps.length);
    this.host.style.height = `${Math.min(MAX_H, Math.max(160, 16 * rows.length + AXIS_H + 16))}px`;
    this.draw();
  }

  resetZoom(): void {
    this.win = { x0: 0, x1: this.steps.length, y0: 0, y1: this.rows.length };
    this.draw();
  }

  zoomBy(factor: number): void {
    const w = this.win;
    this.zoomAt(factor, (w.x0 + w.x1) / 2, (w.y0 + w.y1) / 2);
  }

  private render(): HTMLCanvasElement | null {
    const S = this.steps.length;
    const R = this.rows.length;
    this.specials = new Set();
    if (!S || !R) return null;
    const img = new ImageData(S, R);
    this.rows.forEach((row, li) => {
      for (let si = 0; si < S; si++) {
        const v = row.values[si];
        const c = classify(v, this.scale);
        if (c !== "value") this.specials.add(c);
        const [r, g, b] = cellColor(v, this.scale);
        img.data.set([r, g, b, 255], (li * S + si) * 4);
      }
    });
    const off = document.createElement("canvas");
    off.width = S;
    off.height = R;
    off.getContext("2d")?.putImageData(img, 0, 0);
    return off;
  }

  private plot(): SvgPlot {
    const w = Math.max(10, this.host.clientWidth - LABEL_W - LEGEND_W);
    const h = Math.max(10, this.host.clientHeight - AXIS_H - 8);
    return { x: LABEL_W, y: 8, w, h };
  }

  private draw(): void {
    const W = this.host.clientWidth;
    const H = this.host.clientHeight;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(W * dpr);
    this.canvas.height = Math.round(H * dpr);
    this.canvas.style.width = `${W}px`;
    this.canvas.style.height = `${H}px`;
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const w = this.win;
    this.host.dataset.zoom = `${Math.round(w.x0)}-${Math.round(w.x1)},${Math.round(w.y0)}-${Math.round(w.y1)}`;
    if (!this.image) return;
    const p = this.plot();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.image, w.x0, w.y0, w.x1 - w.x0, w.y1 - w.y0, p.x, p.y, p.w, p.h);
    this.stepAxis(ctx, p);
    this.legend(ctx, p);
    this.drawLabels(p);
  }

  private stepTicks(p: SvgPlot): { x: number; step: number }[] {
    const w = this.win;
    const colW = p.w / (w.x1 - w.x0);
    const ticks = Math.max(2, Math.floor(p.w / 70));
    const first = Math.max(0, Math.floor(w.x0));
    const last = Math.min(this.steps.length, Math.ceil(w.x1));
    const stride = Math.max(1, Math.ceil((last - first) / ticks));
    const out = [];
    for (let si = first; si < last; si += stride) out.push({ x: p.x + (si + 0.5 - w.x0) * colW, step: this.steps[si] as number });
    return out.filter((t) => t.x >= p.x && t.x <= p.x + p.w);
  }

  private stepAxis(ctx: CanvasRenderingContext2D, p: SvgPlot): void {
    ctx.font = FONT;
    ctx.fillStyle = "#333";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of this.stepTicks(p)) ctx.fillText(String(t.step), t.x, p.y + p.h + 4);
    ctx.fillStyle = "#666";
    ctx.fillText("step", p.x + p.w / 2, p.y + p.h + 18);
  }

  /** The ramp with its end values, then a swatch for each special value present. */
  legendItems(): { ramp: { top: string; bottom: string }; swatches: { color: RGB; label: string }[] } {
    const show = (t: number): string => formatNumber(rampValue(this.scale, t), 2);
    const swatches: { color: RGB; label: string }[] = [];
    if (this.specials.has("zero")) swatches.push({ color: ZERO, label: "= 0" });
    if (this.specials.has("nonfinite")) swatches.push({ color: NONFINITE, label: "NaN / Inf" });
    if (this.specials.has("missing")) swatches.push({ color: NOT_RECORDED, label: "not recorded" });
    return { ramp: { top: show(1), bottom: show(0) }, swatches };
  }

  private legend(ctx: CanvasRenderingContext2D, p: SvgPlot): void {
    const x = p.x + p.w + 12;
    const h = Math.min(p.h, 140);
    for (let i = 0; i < h; i++) {
      const [r, g, b] = rampColor(this.scale, 1 - i / (h - 1 || 1));
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(x, p.y + i, 12, 1);
    }
    const items = this.legendItems();
    ctx.fillStyle = "#333";
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(items.ramp.top, x + 15, p.y);
    ctx.textBaseline = "bottom";
    ctx.fillText(items.ramp.bottom, x + 15, p.y + h);
    ctx.textBaseline = "middle";
    items.swatches.forEach((s, i) => {
      const y = p.y + h + 14 + i * 16;
      ctx.fillStyle = `rgb(${s.color.join(",")})`;
      ctx.fillRect(x, y - 5, 12, 10);
      ctx.fillStyle = "#333";
      ctx.fillText(s.label, x + 15, y);
    });
  }

  /** Visible rows with their y and height in CSS pixels. */
  private visibleRows(p: SvgPlot): { row: Row; y: number; h: number }[] {
    const w = this.win;
    const rowH = p.h / (w.y1 - w.y0);
    const out = [];
    for (let li = Math.max(0, Math.floor(w.y0)); li < Math.min(this.rows.length, Math.ceil(w.y1)); li++) {
      out.push({ row: this.rows[li] as Row, y: p.y + (li - w.y0) * rowH, h: rowH });
    }
    return out;
  }

  private drawLabels(p: SvgPlot): void {
    const visible = this.visibleRows(p);
    const every = Math.max(1, Math.ceil(12 / (visible[0]?.h ?? 12)));
    this.labels.replaceChildren();
    this.labels.style.width = `${LABEL_W - 6}px`;
    const named = labelledRows(visible.map((v) => v.row.group), every);
    visible.forEach(({ row, y, h }, k) => {
      const text = named[k] ? row.label : "";
      const name = el("span", { class: "heat-name", title: row.group ? `${row.label}: ${row.layers.length} layers` : row.label }, text);
      const item = el("div", { class: `heat-row${row.group ? " group" : ""}${row.id === this.opts.highlight ? " highlight" : ""}`, attrs: { "data-testid": "heat-row", "data-row-id": row.id } });
      // A labelled row is at least one line of text high, centred on its cells (thin rows of a
      // zoomed-out heatmap label every n-th row); other rows keep their height for hover titles.
      const height = text ? Math.max(h, 13) : Math.max(1, h);
      item.style.top = `${Math.max(p.y - 6, y + h / 2 - height / 2) - p.y + 8}px`;
      item.style.height = `${height}px`;
      item.style.paddingLeft = `${row.depth * 12}px`;
      if (row.group && text) {
        const t = el("button", { class: "heat-toggle", attrs: { type: "button", "data-testid": "heat-toggle", "aria-expanded": row.expanded ? "true" : "false", "aria-label": `${row.expanded ? "collapse" : "expand"} ${row.label}` }, on: { click: () => this.opts.onToggle?.(row) } }, row.expanded ? "▾" : "▸");
        item.appendChild(t);
      }
      item.appendChild(name);
      if (row.group && text) item.appendChild(el("span", "heat-count", `(${row.layers.length})`));
      if (row.flag && !row.expanded) {
        const what = row.flag === "zero" ? "a layer in this block is exactly 0 at some step" : "a layer in this block has NaN/Inf";
        const dot = el("span", { class: `heat-flag flag-${row.flag}`, title: what, attrs: { "data-testid": "heat-flag", "aria-label": what } }, "●");
        item.appendChild(dot);
      }
      this.labels.appendChild(item);
    });
  }

  private cellAt(e: MouseEvent): { si: number; li: number } | null {
    const r = this.canvas.getBoundingClientRect();
    const p = this.plot();
    const x = e.clientX - r.left - p.x;
    const y = e.clientY - r.top - p.y;
    if (x < 0 || y < 0 || x >= p.w || y >= p.h || !this.rows.length) return null;
    const w = this.win;
    const si = Math.floor(w.x0 + (x / p.w) * (w.x1 - w.x0));
    const li = Math.floor(w.y0 + (y / p.h) * (w.y1 - w.y0));
    return si >= 0 && si < this.steps.length && li >= 0 && li < this.rows.length ? { si, li } : null;
  }

  private zoomAt(factor: number, cx: number, cy: number): void {
    const w = this.win;
    const S = this.steps.length;
    const R = this.rows.length;
    const span = (lo: number, hi: number, c: number, total: number, least: number): [number, number] => {
      const size = Math.min(total, Math.max(least, (hi - lo) * factor));
      let a = c - (c - lo) * (size / (hi - lo));
      a = Math.min(Math.max(0, a), total - size);
      return [a, a + size];
    };
    const [x0, x1] = span(w.x0, w.x1, cx, S, Math.min(S, 4));
    const [y0, y1] = span(w.y0, w.y1, cy, R, Math.min(R, 3));
    this.win = { x0, x1, y0, y1 };
    this.draw();
  }

  private wheel(e: WheelEvent): void {
    if (!this.rows.length) return;
    e.preventDefault();
    const r = this.canvas.getBoundingClientRect();
    const p = this.plot();
    const w = this.win;
    const fx = Math.min(1, Math.max(0, (e.clientX - r.left - p.x) / p.w));
    const fy = Math.min(1, Math.max(0, (e.clientY - r.top - p.y) / p.h));
    this.zoomAt(e.deltaY > 0 ? 1.25 : 0.8, w.x0 + fx * (w.x1 - w.x0), w.y0 + fy * (w.y1 - w.y0));
  }

  private move(e: MouseEvent): void {
    const d = this.drag;
    if (d && e.buttons === 1) {
      const p = this.plot();
      const dx = ((e.clientX - d.x) / p.w) * (d.win.x1 - d.win.x0);
      const dy = ((e.clientY - d.y) / p.h) * (d.win.y1 - d.win.y0);
      if (Math.abs(e.clientX - d.x) + Math.abs(e.clientY - d.y) > 3) d.moved = true;
      if (d.moved) {
        const sx = Math.min(Math.max(-d.win.x0, -dx), this.steps.length - d.win.x1);
        const sy = Math.min(Math.max(-d.win.y0, -dy), this.rows.length - d.win.y1);
        this.win = { x0: d.win.x0 + sx, x1: d.win.x1 + sx, y0: d.win.y0 + sy, y1: d.win.y1 + sy };
        this.draw();
        return;
      }
    }
    this.hover(e);
  }

  private release(e: MouseEvent): void {
    const d = this.drag;
    this.drag = null;
    if (d?.moved) return;
    const c = this.cellAt(e);
    if (c && this.opts.onPick) this.opts.onPick(this.steps[c.si] as number, this.rows[c.li] as Row);
  }

  private hover(e: MouseEvent): void {
    const c = this.cellAt(e);
    if (!c) {
      this.tip.hidden = true;
      return;
    }
    const row = this.rows[c.li] as Row;
    const v = row.values[c.si];
    const value = v === null || v === undefined ? "not recorded" : formatNumber(v, 4);
    const what = row.group ? `${row.label} (mean of ${row.layers.length} layers)` : row.label;
    this.tip.textContent = this.opts.describe?.(row, c.si) ?? `${what}\nstep ${this.steps[c.si]}\n${this.opts.label}: ${value}`;
    this.tip.hidden = false;
    const r = this.host.getBoundingClientRect();
    this.tip.style.left = `${Math.min(e.clientX - r.left + 12, r.width - 260)}px`;
    this.tip.style.top = `${e.clientY - r.top + 12}px`;
  }

  private exportable(): Exportable {
    const name = fileName(this.opts.label || "heatmap");
    return {
      name,
      png: () => canvasPng(this.canvas),
      svg: () => {
        const p = this.plot();
        const w = this.win;
        const crop = document.createElement("canvas");
        const cw = Math.max(1, Math.ceil(w.x1) - Math.floor(w.x0));
        const ch = Math.max(1, Math.ceil(w.y1) - Math.floor(w.y0));
        crop.width = cw;
        crop.height = ch;
        if (this.image) crop.getContext("2d")?.drawImage(this.image, Math.floor(w.x0), Math.floor(w.y0), cw, ch, 0, 0, cw, ch);
        return heatmapSvg({
          width: this.host.clientWidth, height: this.host.clientHeight, plot: p, title: this.opts.label,
          cells: crop.toDataURL("image/png"),
          rows: this.visibleRows(p).map((r) => ({ label: r.row.group ? `${r.row.label} (${r.row.layers.length})` : r.row.label, y: r.y, h: r.h, depth: r.row.depth })),
          ticks: this.stepTicks(p),
          ramp: Array.from({ length: 9 }, (_, i) => rampColor(this.scale, i / 8)),
          legend: this.legendItems(),
        });
      },
    };
  }
}
