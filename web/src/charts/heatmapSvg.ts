// The layer-health heatmap as an SVG document: the cells of the visible window as one embedded
// PNG (one pixel per cell, scaled without smoothing), labels, ticks and legend as vector text.
// Built with DOM calls and serialised, so layer names are escaped by the serializer.
import type { RGB } from "../lib/heatScale";

const NS = "http://www.w3.org/2000/svg";

export interface SvgPlot {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface HeatmapSvgInput {
  width: number;
  height: number;
  plot: SvgPlot;
  title: string;
  /** data: URL of the visible cells. */
  cells: string;
  rows: { label: string; y: number; h: number; depth: number }[];
  ticks: { x: number; step: number }[];
  ramp: RGB[];
  legend: { ramp: { top: string; bottom: string }; swatches: { color: RGB; label: string }[] };
}

function mk<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

const rgb = (c: RGB): string => `rgb(${c[0]},${c[1]},${c[2]})`;

export function heatmapSvg(x: HeatmapSvgInput): string {
  const top = 20; // room for the title
  const svg = mk("svg", { xmlns: NS, width: x.width, height: x.height + top, viewBox: `0 ${-top} ${x.width} ${x.height + top}`, "font-family": "system-ui, sans-serif", "font-size": 11 });
  svg.appendChild(mk("rect", { x: 0, y: -top, width: x.width, height: x.height + top, fill: "#fff" }));
  svg.appendChild(mk("text", { x: 4, y: -6, "font-weight": 600 }, x.title));
  const p = x.plot;
  const img = mk("image", { x: p.x, y: p.y, width: p.w, height: p.h, preserveAspectRatio: "none", style: "image-rendering:pixelated", href: x.cells });
  svg.appendChild(img);
  const every = Math.max(1, Math.ceil(12 / (x.rows[0]?.h ?? 12)));
  x.rows.forEach((r, k) => {
    if (k % every) return;
    const label = r.label.length > 36 ? `…${r.label.slice(-35)}` : r.label;
    svg.appendChild(mk("text", { x: p.x - 6, y: (r.y + r.h / 2).toFixed(1), "text-anchor": "end", "dominant-baseline": "middle", fill: "#333" }, `${"  ".repeat(r.depth)}${label}`));
  });
  for (const t of x.ticks) svg.appendChild(mk("text", { x: t.x.toFixed(1), y: p.y + p.h + 14, "text-anchor": "middle", fill: "#333" }, String(t.step)));
  svg.appendChild(mk("text", { x: p.x + p.w / 2, y: p.y + p.h + 28, "text-anchor": "middle", fill: "#666" }, "step"));
  const lx = p.x + p.w + 12;
  const lh = Math.min(p.h, 140);
  const grad = mk("linearGradient", { id: "ramp", x1: 0, x2: 0, y1: 1, y2: 0 });
  x.ramp.forEach((c, i) => grad.appendChild(mk("stop", { offset: i / (x.ramp.length - 1 || 1), "stop-color": rgb(c) })));
  svg.appendChild(mk("defs", {})).appendChild(grad);
  svg.appendChild(mk("rect", { x: lx, y: p.y, width: 12, height: lh, fill: "url(#ramp)" }));
  svg.appendChild(mk("text", { x: lx + 15, y: p.y + 9 }, x.legend.ramp.top));
  svg.appendChild(mk("text", { x: lx + 15, y: p.y + lh }, x.legend.ramp.bottom));
  x.legend.swatches.forEach((s, i) => {
    const y = p.y + lh + 14 + i * 16;
    svg.appendChild(mk("rect", { x: lx, y: y - 5, width: 12, height: 10, fill: rgb(s.color) }));
    svg.appendChild(mk("text", { x: lx + 15, y: y + 4 }, s.label));
  });
  return new XMLSerializer().serializeToString(svg);
}
