import { el } from "../dom";
import { viridis } from "../lib/colors";
import { formatNumber } from "../lib/format";
import { toHeatmap } from "../lib/heatmap";
import type { StatMatrix } from "../api";

const LABEL_W = 190;
const AXIS_H = 34;
const LEGEND_W = 70;
const FONT = "11px system-ui, sans-serif";

export interface HeatmapOptions {
  log: boolean;
  label: string;
  highlight?: string | null;
  onPick?: (step: number, layer: string) => void;
}

/**
 * Layers x steps heatmap drawn straight onto a canvas: one pixel per cell in an offscreen image,
 * scaled up without smoothing. A GPT-2-sized matrix (150 layers x 500 steps) draws in
 * milliseconds, where a chart library spends seconds on 75,000 rectangles. Hover shows the cell
 * in a text tooltip; click picks the step (the gradient-flow chart follows it).
 */
export class CanvasHeatmap {
  private readonly canvas = el("canvas");
  private readonly tip = el("div", { class: "heat-tip", attrs: { role: "tooltip" } });
  private m: StatMatrix | null = null;
  private opts: HeatmapOptions = { log: false, label: "" };
  private range: [number, number] = [0, 1];
  private readonly ro: ResizeObserver;

  constructor(private readonly host: HTMLElement, onDispose: (fn: () => void) => void) {
    host.classList.add("heatmap");
    host.append(this.canvas, this.tip);
    this.tip.hidden = true;
    this.canvas.addEventListener("mousemove", (e) => this.hover(e));
    this.canvas.addEventListener("mouseleave", () => (this.tip.hidden = true));
    this.canvas.addEventListener("click", (e) => {
      const c = this.cellAt(e);
      if (c && this.m && this.opts.onPick) this.opts.onPick(this.m.steps[c.si] as number, this.m.layers[c.li] as string);
    });
    this.ro = new ResizeObserver(() => this.draw());
    this.ro.observe(host);
    onDispose(() => this.ro.disconnect());
  }

  set(m: StatMatrix, opts: HeatmapOptions): void {
    this.m = m;
    this.opts = opts;
    const hm = toHeatmap(m, opts.log);
    this.range = [hm.min, hm.max];
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", `${opts.label}: ${m.layers.length} layers × ${m.steps.length} steps`);
    this.host.style.height = `${Math.min(900, Math.max(160, 14 * m.layers.length + AXIS_H + 16))}px`;
    this.draw();
  }

  private plot(): { x: number; y: number; w: number; h: number } {
    const w = Math.max(10, this.host.clientWidth - LABEL_W - LEGEND_W);
    const h = Math.max(10, this.host.clientHeight - AXIS_H - 8);
    return { x: LABEL_W, y: 8, w, h };
  }

  private value(v: number | null | undefined): number | null {
    if (v === null || v === undefined || !Number.isFinite(v)) return null;
    if (this.opts.log) return v > 0 ? Math.log10(v) : null;
    return v;
  }

  private draw(): void {
    const m = this.m;
    if (!m) return;
    const dpr = window.devicePixelRatio || 1;
    const W = this.host.clientWidth;
    const H = this.host.clientHeight;
    this.canvas.width = Math.round(W * dpr);
    this.canvas.height = Math.round(H * dpr);
    this.canvas.style.width = `${W}px`;
    this.canvas.style.height = `${H}px`;
    const ctx = this.canvas.getContext("2d");
    if (!ctx || !m.steps.length || !m.layers.length) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const p = this.plot();
    const [lo, hi] = this.range;
    const img = new ImageData(m.steps.length, m.layers.length);
    m.values.forEach((row, li) => {
      row.forEach((raw, si) => {
        const v = this.value(raw);
        const o = (li * m.steps.length + si) * 4;
        if (v === null) {
          img.data.set([238, 238, 238, 255], o);
          return;
        }
        const [r, g, b] = viridis((v - lo) / (hi - lo));
        img.data.set([r, g, b, 255], o);
      });
    });
    const off = document.createElement("canvas");
    off.width = img.width;
    off.height = img.height;
    off.getContext("2d")?.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, p.x, p.y, p.w, p.h);
    this.axes(ctx, m, p);
    this.legend(ctx, p);
  }

  private axes(ctx: CanvasRenderingContext2D, m: StatMatrix, p: { x: number; y: number; w: number; h: number }): void {
    ctx.font = FONT;
    ctx.fillStyle = "#333";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    const rowH = p.h / m.layers.length;
    const every = Math.max(1, Math.ceil(12 / rowH));
    m.layers.forEach((name, li) => {
      if (li % every) return;
      ctx.font = name === this.opts.highlight ? `bold ${FONT}` : FONT;
      ctx.fillText(truncate(ctx, name, LABEL_W - 10), p.x - 6, p.y + (li + 0.5) * rowH);
    });
    ctx.font = FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const colW = p.w / m.steps.length;
    const ticks = Math.max(2, Math.floor(p.w / 70));
    const stride = Math.max(1, Math.ceil(m.steps.length / ticks));
    for (let si = 0; si < m.steps.length; si += stride) ctx.fillText(String(m.steps[si]), p.x + (si + 0.5) * colW, p.y + p.h + 4);
    ctx.fillStyle = "#666";
    ctx.fillText("step", p.x + p.w / 2, p.y + p.h + 18);
  }

  private legend(ctx: CanvasRenderingContext2D, p: { x: number; y: number; w: number; h: number }): void {
    const x = p.x + p.w + 14;
    const h = Math.min(p.h, 160);
    for (let i = 0; i < h; i++) {
      const [r, g, b] = viridis(1 - i / (h - 1 || 1));
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(x, p.y + i, 12, 1);
    }
    ctx.fillStyle = "#333";
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    const show = (v: number): string => formatNumber(this.opts.log ? Math.pow(10, v) : v, 2);
    ctx.fillText(show(this.range[1]), x + 15, p.y);
    ctx.textBaseline = "bottom";
    ctx.fillText(show(this.range[0]), x + 15, p.y + h);
  }

  private cellAt(e: MouseEvent): { si: number; li: number } | null {
    const m = this.m;
    if (!m) return null;
    const r = this.canvas.getBoundingClientRect();
    const p = this.plot();
    const x = e.clientX - r.left - p.x;
    const y = e.clientY - r.top - p.y;
    if (x < 0 || y < 0 || x >= p.w || y >= p.h) return null;
    return { si: Math.floor((x / p.w) * m.steps.length), li: Math.floor((y / p.h) * m.layers.length) };
  }

  private hover(e: MouseEvent): void {
    const c = this.cellAt(e);
    const m = this.m;
    if (!c || !m) {
      this.tip.hidden = true;
      return;
    }
    const v = m.values[c.li]?.[c.si];
    this.tip.textContent = `${m.layers[c.li]}\nstep ${m.steps[c.si]}\n${this.opts.label}: ${v === null || v === undefined ? "not recorded" : formatNumber(v, 4)}`;
    this.tip.hidden = false;
    const r = this.host.getBoundingClientRect();
    this.tip.style.left = `${Math.min(e.clientX - r.left + 12, r.width - 220)}px`;
    this.tip.style.top = `${e.clientY - r.top + 12}px`;
  }
}

function truncate(ctx: CanvasRenderingContext2D, s: string, width: number): string {
  if (ctx.measureText(s).width <= width) return s;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ctx.measureText(`…${s.slice(s.length - mid)}`).width <= width) lo = mid;
    else hi = mid - 1;
  }
  return `…${s.slice(s.length - lo)}`; // keep the end: the distinctive part of a module path
}
