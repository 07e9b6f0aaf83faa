// The colour legend of the graph view: an HTML strip under the toolbar and the same scale as SVG
// for exported files. Labels are text nodes.

import { append, clear, el } from "../dom";
import { formatNumber } from "../lib/format";
import { legendTicks, rampAt, scalePosition, type ColorScale } from "../lib/graphModel";

const NS = "http://www.w3.org/2000/svg";
const STOPS = 9;

function stopColour(scale: ColorScale, i: number): string {
  const [r, g, b] = rampAt(scale, i / (STOPS - 1));
  return `rgb(${r}, ${g}, ${b})`;
}

/** Fill `box` with the scale of `label`; `scale` null: nothing recorded. */
export function htmlLegend(box: HTMLElement, label: string, scale: ColorScale | null, note: string): void {
  clear(box);
  if (!scale) {
    append(box, el("span", "muted", `${label}: nothing recorded`));
    return;
  }
  const stops = Array.from({ length: STOPS }, (_, i) => `${stopColour(scale, i)} ${(i / (STOPS - 1)) * 100}%`);
  const ramp = el("div", "ramp");
  ramp.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const ticks = el("div", "ticks");
  for (const t of legendTicks(scale)) {
    const s = el("span", null, formatNumber(t, 3));
    s.style.left = `${scalePosition(scale, t) * 100}%`;
    ticks.appendChild(s);
  }
  append(
    box,
    el("span", null, `${label}${scale.log ? " (log scale)" : ""}`),
    el("span", "scale-box", ramp, ticks),
    el("span", null, el("span", { class: "swatch", attrs: { style: "background:#e8f1fa" } }), "not recorded"),
    el("span", "muted", note),
  );
}

/** The same legend as an SVG group 260 x 36 px (title, gradient bar, ticks), for exports. */
export function svgLegend(label: string, scale: ColorScale, step: number | null): SVGGElement {
  const mk = <K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const g = mk("g", { class: "legend", "font-size": 11, fill: "#1d232b" });
  const grad = mk("linearGradient", { id: "ds-legend-ramp", x1: 0, x2: 1, y1: 0, y2: 0 });
  for (let i = 0; i < STOPS; i++) grad.appendChild(mk("stop", { offset: i / (STOPS - 1), "stop-color": stopColour(scale, i) }));
  g.appendChild(mk("defs", {})).appendChild(grad);
  g.appendChild(mk("text", { x: 0, y: 10 }, `${label}${step === null ? "" : ` at step ${step}`}${scale.log ? " (log scale)" : ""}`));
  g.appendChild(mk("rect", { x: 0, y: 15, width: 260, height: 9, fill: "url(#ds-legend-ramp)", stroke: "#dde1e6" }));
  for (const t of legendTicks(scale)) {
    g.appendChild(mk("text", { x: (scalePosition(scale, t) * 260).toFixed(1), y: 35, "text-anchor": "middle", fill: "#66707c" }, formatNumber(t, 3)));
  }
  return g;
}
