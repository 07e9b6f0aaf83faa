// A sparkline: the shape of a scalar series in a small inline SVG (no axes), with the best
// point marked. Built with DOM calls; values become coordinates only.
const NS = "http://www.w3.org/2000/svg";

export function sparkline(steps: readonly number[], values: readonly (number | null)[], best: number | null, width = 160, height = 34): SVGSVGElement {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("role", "img");
  const pts = steps.map((s, i) => [s, values[i]] as const).filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]));
  if (pts.length < 2) return svg;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const X = (x: number): number => 2 + ((x - x0) / (x1 - x0 || 1)) * (width - 4);
  const Y = (y: number): number => height - 3 - ((y - y0) / (y1 - y0 || 1)) * (height - 6);
  const line = document.createElementNS(NS, "polyline");
  line.setAttribute("points", pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#0072B2");
  line.setAttribute("stroke-width", "1.3");
  svg.appendChild(line);
  const at = best === null ? undefined : pts.find((p) => p[1] === best);
  if (at) {
    const dot = document.createElementNS(NS, "circle");
    dot.setAttribute("cx", X(at[0]).toFixed(1));
    dot.setAttribute("cy", Y(at[1]).toFixed(1));
    dot.setAttribute("r", "2.5");
    dot.setAttribute("fill", "#D55E00");
    svg.appendChild(dot);
  }
  return svg;
}
