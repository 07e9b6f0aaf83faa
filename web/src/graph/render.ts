// SVG drawing of a laid-out graph: nodes, groups, edges, finding badges; pan by dragging, zoom
// with the wheel; hover callbacks for the tooltip; export as a standalone SVG file. Every string
// goes into SVG text nodes (textContent), never markup.

import type { Box, LayoutResult, Point } from "./protocol";

const NS = "http://www.w3.org/2000/svg";

/** What the view wants drawn for one visible node. */
export interface DrawNode {
  id: string;
  group: boolean;
  collapsed: boolean;
  kind: string;
  title: string;
  subtitle: string;
}

/** Colours and marks, changed without a new layout. */
export interface Decoration {
  fill?: string;
  text?: string;
  severity?: string;
  findings?: number;
  match?: boolean;
  selected?: boolean;
}

export interface DrawEdge {
  id: string;
  source: string;
  target: string;
}

export interface CanvasHandlers {
  toggle(id: string): void;
  select(id: string | null): void;
  /** Pointer over a node or edge (null: left it); client coordinates for the tooltip. */
  hover(target: { node: string } | { edge: string } | null, x: number, y: number): void;
}

/** The graph's own stylesheet, inside the SVG so an exported file looks the same. */
const SVG_CSS = `
.ds-graph { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
.ds-graph .edge { fill: none; stroke: #8a96a3; stroke-width: 1.2; }
.ds-graph .edge-hit { fill: none; stroke: transparent; stroke-width: 9; pointer-events: stroke; }
.ds-graph .edge.hot { stroke: #0072b2; stroke-width: 2.2; }
.ds-graph .node-box { stroke: #8bb4d9; stroke-width: 1; }
.ds-graph .node.kind-op .node-box { stroke: #b6bcc4; }
.ds-graph .node.kind-input .node-box, .ds-graph .node.kind-output .node-box { stroke: #7cbf8e; }
.ds-graph .node.collapsed .stack { fill: #fff; stroke: #8bb4d9; }
.ds-graph .group-box { fill: rgba(0, 114, 178, 0.035); stroke: #9fb7cc; stroke-dasharray: 4 3; }
.ds-graph .title { font-size: 12px; font-weight: 600; }
.ds-graph .sub { font-size: 10.5px; opacity: 0.8; }
.ds-graph .group-title { font-size: 11.5px; font-weight: 600; fill: #3c4a57; }
.ds-graph .toggle rect { fill: #fff; stroke: #6d8aa3; }
.ds-graph .toggle text { font-size: 13px; font-weight: 700; fill: #2b4a66; }
.ds-graph .toggle { cursor: pointer; }
.ds-graph .node { cursor: default; }
.ds-graph .node.match .node-box, .ds-graph .node.match .group-box { stroke: #e67e22; stroke-width: 3; stroke-dasharray: none; }
.ds-graph .node.selected .node-box, .ds-graph .node.selected .group-box { stroke: #0072b2; stroke-width: 3; stroke-dasharray: none; }
.ds-graph .badge circle { stroke: #fff; stroke-width: 1.5; }
.ds-graph .badge text { font-size: 10px; font-weight: 700; fill: #fff; }
.ds-graph .badge.sev-error circle { fill: #c0392b; }
.ds-graph .badge.sev-warning circle { fill: #d68910; }
.ds-graph .badge.sev-info circle { fill: #2e86c1; }
`;

const KIND_FILL: Record<string, string> = { module: "#e8f1fa", op: "#f3f4f6", input: "#e6f4ea", output: "#e6f4ea" };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function pathOf(pts: readonly Point[]): string {
  return pts.map((p, i) => `${i ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(" ");
}

interface Drawn {
  g: SVGGElement;
  box: Box;
  shape: SVGRectElement;
  texts: SVGTextElement[];
  badge: SVGGElement | null;
  node: DrawNode;
}

export class GraphCanvas {
  readonly svg: SVGSVGElement;
  private readonly viewport: SVGGElement;
  private readonly edgeLayer: SVGGElement;
  private readonly nodeLayer: SVGGElement;
  private readonly drawn = new Map<string, Drawn>();
  private readonly edgePaths = new Map<string, SVGPathElement>();
  private size = { width: 0, height: 0 };
  private t = { x: 0, y: 0, k: 1 };

  constructor(
    private readonly host: HTMLElement,
    private readonly on: CanvasHandlers,
  ) {
    this.svg = svg("svg", { class: "ds-graph", xmlns: NS, role: "img" });
    const style = svg("style");
    style.textContent = SVG_CSS;
    const defs = svg("defs");
    const marker = svg("marker", { id: "ds-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.appendChild(svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8a96a3" }));
    defs.appendChild(marker);
    this.viewport = svg("g", { class: "viewport" });
    this.edgeLayer = svg("g", { class: "edges" });
    this.nodeLayer = svg("g", { class: "nodes" });
    this.viewport.append(this.edgeLayer, this.nodeLayer);
    this.svg.append(style, defs, this.viewport);
    host.appendChild(this.svg);
    this.bindPanZoom();
  }

  /** Replace the drawing with a new layout. */
  draw(layout: LayoutResult, nodes: readonly DrawNode[], edges: readonly DrawEdge[]): void {
    this.edgeLayer.replaceChildren();
    this.nodeLayer.replaceChildren();
    this.drawn.clear();
    this.edgePaths.clear();
    this.size = { width: layout.width, height: layout.height };
    for (const e of edges) {
      const pts = layout.edges[e.id];
      if (!pts) continue;
      const d = pathOf(pts);
      const path = svg("path", { class: "edge", d, "marker-end": "url(#ds-arrow)" });
      const hit = svg("path", { class: "edge-hit", d, "data-edge-id": e.id });
      hit.addEventListener("pointerenter", (ev) => {
        path.classList.add("hot");
        this.on.hover({ edge: e.id }, ev.clientX, ev.clientY);
      });
      hit.addEventListener("pointermove", (ev) => this.on.hover({ edge: e.id }, ev.clientX, ev.clientY));
      hit.addEventListener("pointerleave", (ev) => {
        path.classList.remove("hot");
        this.on.hover(null, ev.clientX, ev.clientY);
      });
      this.edgePaths.set(e.id, path);
      this.edgeLayer.append(path, hit);
    }
    // groups first (outermost first: nodes come in tree order), so children paint on top
    const ordered = [...nodes.filter((n) => n.group), ...nodes.filter((n) => !n.group)];
    for (const n of ordered) {
      const box = layout.nodes[n.id];
      if (box) this.drawNode(n, box);
    }
  }

  private drawNode(n: DrawNode, box: Box): void {
    const g = svg("g", {
      class: `node kind-${n.kind}${n.group ? " group" : ""}${n.collapsed ? " collapsed" : ""}`,
      transform: `translate(${box.x.toFixed(1)},${box.y.toFixed(1)})`,
      "data-testid": "graph-node",
      "data-node-id": n.id,
    });
    if (n.group || n.collapsed) g.setAttribute("aria-expanded", n.group ? "true" : "false");
    const texts: SVGTextElement[] = [];
    let shape: SVGRectElement;
    if (n.group) {
      shape = svg("rect", { class: "group-box", width: box.width, height: box.height, rx: 8 });
      const title = svg("text", { class: "group-title", x: 10, y: 19 }, `${n.title} · ${n.subtitle}`);
      g.append(shape, title);
    } else {
      if (n.collapsed) g.appendChild(svg("rect", { class: "stack", x: 4, y: 4, width: box.width, height: box.height, rx: 6 }));
      shape = svg("rect", { class: "node-box", width: box.width, height: box.height, rx: 6, fill: KIND_FILL[n.kind] ?? "#fff" });
      const cx = (box.width - (n.collapsed ? 18 : 0)) / 2;
      const title = svg("text", { class: "title", x: cx, y: 15, "text-anchor": "middle" }, n.title);
      const sub = svg("text", { class: "sub", x: cx, y: 29, "text-anchor": "middle" }, n.subtitle);
      texts.push(title, sub);
      g.append(shape, title, sub);
    }
    if (n.group || n.collapsed) {
      const tg = svg("g", { class: "toggle", transform: `translate(${box.width - 21},5)`, "data-testid": "graph-toggle", role: "button", tabindex: 0 });
      tg.addEventListener("keydown", (ev) => {
        if (ev.key !== "Enter" && ev.key !== " ") return;
        ev.preventDefault();
        this.on.toggle(n.id);
      });
      tg.setAttribute("aria-label", n.group ? `collapse ${n.title}` : `expand ${n.title}`);
      tg.append(svg("rect", { width: 16, height: 16, rx: 3 }), svg("text", { x: 8, y: 12.5, "text-anchor": "middle" }, n.group ? "−" : "+"));
      tg.addEventListener("pointerdown", (ev) => ev.stopPropagation());
      tg.addEventListener("click", (ev) => {
        ev.stopPropagation();
        this.on.toggle(n.id);
      });
      g.appendChild(tg);
      g.addEventListener("dblclick", (ev) => {
        // a double click inside a child node of this group is not meant for the group
        if ((ev.target as Element).closest(".node") !== g) return;
        ev.stopPropagation();
        this.on.toggle(n.id);
      });
    }
    g.addEventListener("pointerenter", (ev) => this.on.hover({ node: n.id }, ev.clientX, ev.clientY));
    g.addEventListener("pointermove", (ev) => {
      if ((ev.target as Element).closest(".node") === g) this.on.hover({ node: n.id }, ev.clientX, ev.clientY);
    });
    g.addEventListener("pointerleave", (ev) => this.on.hover(null, ev.clientX, ev.clientY));
    this.nodeLayer.appendChild(g);
    this.drawn.set(n.id, { g, box, shape, texts, badge: null, node: n });
  }

  /** Colours, finding badges, search hits and the selection; ids not in `deco` get defaults. */
  decorate(deco: ReadonlyMap<string, Decoration>): void {
    for (const [id, d] of this.drawn) {
      const x = deco.get(id) ?? {};
      if (!d.node.group) {
        d.shape.setAttribute("fill", x.fill ?? KIND_FILL[d.node.kind] ?? "#fff");
        for (const t of d.texts) t.setAttribute("fill", x.text ?? "#1d232b");
      }
      d.g.classList.toggle("match", !!x.match);
      d.g.classList.toggle("selected", !!x.selected);
      if (x.match) d.g.setAttribute("data-match", "true");
      else d.g.removeAttribute("data-match");
      d.badge?.remove();
      d.badge = null;
      if (x.severity) {
        d.g.setAttribute("data-finding", x.severity);
        const b = svg("g", { class: `badge sev-${x.severity}`, transform: "translate(0,0)" });
        b.append(svg("circle", { r: 9 }), svg("text", { y: 3.5, "text-anchor": "middle" }, x.findings && x.findings > 1 ? String(x.findings) : "!"));
        d.g.appendChild(b);
        d.badge = b;
      } else d.g.removeAttribute("data-finding");
    }
  }

  /** Screen position (host coordinates) of a node's centre, for keeping it in place. */
  screenOf(id: string): Point | null {
    const d = this.drawn.get(id);
    if (!d) return null;
    return { x: this.t.x + (d.box.x + d.box.width / 2) * this.t.k, y: this.t.y + (d.box.y + d.box.height / 2) * this.t.k };
  }

  /** Pan so that node `id` sits at host point `at` (default: the centre). */
  centerOn(id: string, at?: Point): boolean {
    const d = this.drawn.get(id);
    if (!d) return false;
    const w = this.host.clientWidth;
    const h = this.host.clientHeight;
    if (!at && (d.box.width * this.t.k > w * 0.9 || this.t.k < 0.5)) this.t.k = Math.min(1, Math.max(0.5, this.t.k));
    const p = at ?? { x: w / 2, y: h / 2 };
    this.t.x = p.x - (d.box.x + d.box.width / 2) * this.t.k;
    this.t.y = p.y - (d.box.y + d.box.height / 2) * this.t.k;
    this.apply();
    return true;
  }

  /** Whole width in view (at most 1:1), top of the graph at the top. */
  fit(): void {
    const w = Math.max(1, this.host.clientWidth);
    const h = Math.max(1, this.host.clientHeight);
    const m = 20;
    // Tall graphs (a transformer's block chain) start readable at the top rather than tiny.
    const k = Math.min(1, (w - 2 * m) / Math.max(1, this.size.width), Math.max((h - 2 * m) / Math.max(1, this.size.height), 0.75));
    this.t = { k, x: (w - this.size.width * k) / 2, y: m };
    this.apply();
  }

  zoom(factor: number, at?: Point): void {
    const p = at ?? { x: this.host.clientWidth / 2, y: this.host.clientHeight / 2 };
    const k = Math.min(4, Math.max(0.05, this.t.k * factor));
    this.t.x = p.x - ((p.x - this.t.x) * k) / this.t.k;
    this.t.y = p.y - ((p.y - this.t.y) * k) / this.t.k;
    this.t.k = k;
    this.apply();
  }

  private apply(): void {
    this.viewport.setAttribute("transform", `translate(${this.t.x.toFixed(1)},${this.t.y.toFixed(1)}) scale(${this.t.k.toFixed(4)})`);
  }

  private bindPanZoom(): void {
    let drag: { x: number; y: number; tx: number; ty: number; moved: boolean; id: number } | null = null;
    this.svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      drag = { x: ev.clientX, y: ev.clientY, tx: this.t.x, ty: this.t.y, moved: false, id: ev.pointerId };
    });
    this.svg.addEventListener("pointermove", (ev) => {
      if (!drag || ev.pointerId !== drag.id) return;
      const dx = ev.clientX - drag.x;
      const dy = ev.clientY - drag.y;
      if (!drag.moved && Math.hypot(dx, dy) < 4) return;
      if (!drag.moved) {
        drag.moved = true;
        this.svg.setPointerCapture(ev.pointerId);
        this.svg.classList.add("panning");
      }
      this.t.x = drag.tx + dx;
      this.t.y = drag.ty + dy;
      this.apply();
    });
    const end = (ev: PointerEvent): void => {
      if (!drag || ev.pointerId !== drag.id) return;
      const click = !drag.moved;
      drag = null;
      this.svg.classList.remove("panning");
      if (this.svg.hasPointerCapture(ev.pointerId)) this.svg.releasePointerCapture(ev.pointerId);
      if (click && ev.type === "pointerup") {
        const node = (ev.target as Element | null)?.closest?.("[data-node-id]");
        this.on.select(node ? node.getAttribute("data-node-id") : null);
      }
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", end);
    this.svg.addEventListener(
      "wheel",
      (ev) => {
        ev.preventDefault();
        const r = this.svg.getBoundingClientRect();
        const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1;
        this.zoom(Math.exp(-ev.deltaY * unit * 0.0015), { x: ev.clientX - r.left, y: ev.clientY - r.top });
      },
      { passive: false },
    );
  }

  /**
   * A standalone SVG document of the whole graph (no pan/zoom, no hit areas, no toggles), with
   * the colour legend above it when one is given.
   */
  exportSvg(title: string, legend: SVGGElement | null = null): string {
    const m = 16;
    const top = legend ? 48 : 0;
    const w = Math.max(this.size.width, legend ? 280 : 0) + 2 * m;
    const h = this.size.height + 2 * m + top;
    const copy = this.svg.cloneNode(true) as SVGSVGElement;
    copy.setAttribute("xmlns", NS);
    copy.setAttribute("viewBox", `${-m} ${-m - top} ${w} ${h}`);
    copy.setAttribute("width", String(Math.ceil(w)));
    copy.setAttribute("height", String(Math.ceil(h)));
    copy.querySelector(".viewport")?.removeAttribute("transform");
    for (const e of copy.querySelectorAll(".edge-hit, .toggle")) e.remove();
    const t = svg("title", {}, title);
    copy.insertBefore(t, copy.firstChild);
    copy.insertBefore(svg("rect", { x: -m, y: -m - top, width: w, height: h, fill: "#ffffff" }), copy.querySelector(".viewport"));
    if (legend) {
      legend.setAttribute("transform", `translate(0,${-top})`);
      copy.appendChild(legend);
    }
    return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(copy)}\n`;
  }

  nodeCount(): number {
    return this.drawn.size;
  }
}
