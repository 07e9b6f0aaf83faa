// ELK layered layout of a visible graph. Runs inside the layout worker (and in the timing test);
// the main bundle reaches ELK only through the worker, so it is bundled once.

import ELK from "elkjs/lib/elk.bundled.js";
import type { ElkExtendedEdge, ElkNode } from "elkjs/lib/elk-api";
import type { Box, LayoutInput, LayoutNode, LayoutResult, Point } from "./protocol";

/** Placement inside every graph, root and nested. */
const PLACEMENT: Record<string, string> = {
  "elk.spacing.nodeNode": "18",
  "elk.layered.spacing.nodeNodeBetweenLayers": "26",
  "elk.spacing.edgeNode": "12",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  "elk.layered.nodePlacement.strategy": "LINEAR_SEGMENTS",
};

/** Top-to-bottom layers; expanded containers are laid out together with the whole graph. */
export const ROOT_OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "DOWN",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.hierarchyHandling": "INCLUDE_CHILDREN",
  ...PLACEMENT,
  // Coordinates of every node and edge relative to the root: no nested offsets to add up.
  "elk.json.shapeCoords": "ROOT",
  "elk.json.edgeCoords": "ROOT",
};

const GROUP_OPTIONS: Record<string, string> = {
  // Straight vertical runs for chains of layers: the narrowest drawing here (GPT-2 fully open:
  // 614 px wide against 1741 px for the default Brandes-Koepf placement) and no slower. ELK
  // reads node placement per nested graph; the model-order option on a group crashes elkjs 0.12.
  "elk.layered.nodePlacement.strategy": "LINEAR_SEGMENTS",
  "elk.padding": "[top=30,left=12,bottom=12,right=12]",
  "elk.nodeSize.constraints": "MINIMUM_SIZE",
};

export const ROOT_ID = "__deepscope_root__";

/** The ELK input graph: groups nest their children, edges sit in their lowest common container. */
export function toElk(input: LayoutInput): ElkNode {
  const byId = new Map<string, ElkNode>();
  const build = (n: LayoutNode): ElkNode => {
    const e: ElkNode = { id: n.id, width: n.width, height: n.height };
    if (n.children && n.children.length > 0) {
      e.children = n.children.map(build);
      // The group is at least as wide as its header. elkjs 0.12 applies the minimum size
      // transposed under direction DOWN (measured: "(300, 40)" gives 74 x 300), so pass (h, w).
      e.layoutOptions = { ...GROUP_OPTIONS, "elk.nodeSize.minimum": `(40, ${n.width})` };
      delete e.width;
      delete e.height;
    }
    byId.set(n.id, e);
    return e;
  };
  const root: ElkNode = { id: ROOT_ID, layoutOptions: ROOT_OPTIONS, children: input.nodes.map(build), edges: [] };
  for (const e of input.edges) {
    const holder = (e.container !== null ? byId.get(e.container) : undefined) ?? root;
    const edge: ElkExtendedEdge = { id: e.id, sources: [e.source], targets: [e.target] };
    (holder.edges ??= []).push(edge);
  }
  return root;
}

/** Absolute boxes and edge polylines from ELK's output (coordinates already root-relative). */
export function fromElk(out: ElkNode): LayoutResult {
  const nodes: Record<string, Box> = {};
  const edges: Record<string, Point[]> = {};
  const walk = (n: ElkNode): void => {
    for (const c of n.children ?? []) {
      nodes[c.id] = { x: c.x ?? 0, y: c.y ?? 0, width: c.width ?? 0, height: c.height ?? 0 };
      walk(c);
    }
    for (const e of (n.edges ?? []) as ElkExtendedEdge[]) {
      const pts: Point[] = [];
      for (const s of e.sections ?? []) {
        if (pts.length === 0) pts.push(s.startPoint);
        pts.push(...(s.bendPoints ?? []), s.endPoint);
      }
      if (pts.length >= 2) edges[e.id] = pts.map((p) => ({ x: p.x, y: p.y }));
    }
  };
  walk(out);
  return { width: out.width ?? 0, height: out.height ?? 0, nodes, edges };
}

let elk: InstanceType<typeof ELK> | null = null;

/** Lay out one graph; `ms` is the time ELK took. */
export async function runLayout(input: LayoutInput): Promise<{ result: LayoutResult; ms: number }> {
  elk ??= new ELK();
  const t0 = performance.now();
  const out = await elk.layout(toElk(input));
  return { result: fromElk(out), ms: performance.now() - t0 };
}
