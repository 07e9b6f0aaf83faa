// What the layout worker gets for the visible part of a graph: node sizes from their text
// (measured with the font the SVG uses) nested as the module hierarchy, and the drawn labels.
import type { GNode, GraphModel, VisibleGraph } from "../lib/graphModel";
import { shortName } from "../lib/graphModel";
import type { LayoutInput, LayoutNode } from "./protocol";
import type { DrawNode } from "./render";

// Text widths for node sizes, measured once per string with the font the SVG uses.
const measureCtx = typeof document !== "undefined" ? document.createElement("canvas").getContext("2d") : null;
function textWidth(text: string, font: string): number {
  if (!measureCtx) return text.length * 7;
  measureCtx.font = font;
  return measureCtx.measureText(text).width;
}

function drawNodeOf(n: GNode, collapsed: boolean, hidden: number, group: boolean): DrawNode {
  const subtitle = n.kind === "op" ? "op" : collapsed ? `${n.type} · ${hidden} inside` : n.type;
  return { id: n.id, group, collapsed, kind: n.kind, title: group ? n.name : shortName(n), subtitle };
}

export function layoutInput(g: GraphModel, vis: VisibleGraph): { input: LayoutInput; draw: DrawNode[] } {
  const made = new Map<string, LayoutNode>();
  const top: LayoutNode[] = [];
  const draw: DrawNode[] = [];
  for (const v of vis.nodes) {
    const n = g.byId.get(v.id) as GNode;
    const d = drawNodeOf(n, v.collapsed, v.hidden, v.group);
    draw.push(d);
    const w = v.group
      ? textWidth(`${d.title} · ${d.subtitle}`, "600 11.5px system-ui, sans-serif") + 46
      : Math.max(textWidth(d.title, "600 12px system-ui, sans-serif"), textWidth(d.subtitle, "10.5px system-ui, sans-serif")) + (v.collapsed ? 44 : 24);
    const ln: LayoutNode = { id: v.id, width: Math.ceil(Math.max(64, w)), height: 36, ...(v.group ? { children: [] } : {}) };
    made.set(v.id, ln);
    const holder = v.parent === null ? top : made.get(v.parent)?.children;
    (holder ?? top).push(ln);
  }
  const edges = vis.edges.map((e) => ({ id: e.id, source: e.source, target: e.target, container: e.container }));
  return { input: { nodes: top, edges }, draw };
}

