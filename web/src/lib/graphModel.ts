// Pure transforms behind the graph view: parse the stored graph (docs/graph.md), decide which
// containers are open, compute the visible graph with edges rerouted to the nearest visible
// ancestor, map statistics and findings onto visible nodes, and the colour scale. No DOM here.

import { viridis } from "./colors";
import { diverging } from "./heatScale";

export type NodeKind = "module" | "op" | "input" | "output";

export interface GNode {
  id: string;
  name: string;
  label: string;
  type: string;
  kind: NodeKind;
  parent: string | null;
  depth: number;
  /** Ids of the direct children, in graph order. */
  children: string[];
  inputShapes: number[][];
  outputShapes: number[][];
  dtype: string | null;
  params: number;
  trainableParams: number;
  flops: number;
  activationBytes: number;
  calls: number;
}

export interface GEdge {
  source: string;
  target: string;
  shape: number[] | null;
  dtype: string | null;
}

export interface GraphModel {
  model: string;
  tracer: string;
  notes: string[];
  nodes: GNode[];
  byId: Map<string, GNode>;
  edges: GEdge[];
  /** Top-level node ids, in graph order. */
  roots: string[];
  totals: { params: number; trainableParams: number; flops: number; activationBytes: number };
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
const shape = (v: unknown): number[] | null =>
  Array.isArray(v) && v.every((d) => typeof d === "number") ? (v as number[]) : null;
const shapes = (v: unknown): number[][] =>
  Array.isArray(v) ? v.map(shape).filter((s): s is number[] => s !== null) : [];
const KINDS: readonly NodeKind[] = ["module", "op", "input", "output"];

/**
 * Read `Graph.to_dict()` defensively: unknown fields are ignored, missing ones get neutral
 * values, nodes whose parent is absent become top-level, duplicate ids keep the first.
 * Throws on a payload that is not a graph at all.
 */
export function parseGraph(data: unknown): GraphModel {
  if (typeof data !== "object" || data === null || !Array.isArray((data as { nodes?: unknown }).nodes)) {
    throw new Error("not a deepscope graph (no node list)");
  }
  const d = data as Record<string, unknown>;
  const byId = new Map<string, GNode>();
  const nodes: GNode[] = [];
  for (const raw of d.nodes as unknown[]) {
    if (typeof raw !== "object" || raw === null) continue;
    const r = raw as Record<string, unknown>;
    const id = str(r.id);
    if (!id || byId.has(id)) continue;
    const kind = KINDS.includes(r.kind as NodeKind) ? (r.kind as NodeKind) : "module";
    const n: GNode = {
      id,
      name: str(r.name, id),
      label: str(r.label, id),
      type: str(r.type, kind),
      kind,
      parent: typeof r.parent === "string" ? r.parent : null,
      depth: 0,
      children: [],
      inputShapes: shapes(r.input_shapes),
      outputShapes: shapes(r.output_shapes),
      dtype: typeof r.dtype === "string" ? r.dtype : null,
      params: num(r.params),
      trainableParams: num(r.trainable_params),
      flops: num(r.flops),
      activationBytes: num(r.activation_bytes),
      calls: num(r.calls),
    };
    byId.set(id, n);
    nodes.push(n);
  }
  const roots: string[] = [];
  for (const n of nodes) {
    const p = n.parent === null ? undefined : byId.get(n.parent);
    if (p && p !== n && !isAncestor(byId, n.id, p.id)) p.children.push(n.id);
    else {
      n.parent = null;
      roots.push(n.id);
    }
  }
  // Depth from the tree itself (the stored depth may disagree after the repairs above).
  const setDepth = (id: string, depth: number): void => {
    const n = byId.get(id) as GNode;
    n.depth = depth;
    for (const c of n.children) setDepth(c, depth + 1);
  };
  for (const r of roots) setDepth(r, 0);
  const edges: GEdge[] = [];
  for (const raw of Array.isArray(d.edges) ? (d.edges as unknown[]) : []) {
    if (typeof raw !== "object" || raw === null) continue;
    const e = raw as Record<string, unknown>;
    const source = str(e.source);
    const target = str(e.target);
    if (!byId.has(source) || !byId.has(target)) continue;
    edges.push({ source, target, shape: shape(e.shape), dtype: typeof e.dtype === "string" ? e.dtype : null });
  }
  const t = (typeof d.totals === "object" && d.totals !== null ? d.totals : {}) as Record<string, unknown>;
  return {
    model: str(d.model, "model"),
    tracer: str(d.tracer, "unknown"),
    notes: Array.isArray(d.notes) ? d.notes.filter((x): x is string => typeof x === "string") : [],
    nodes,
    byId,
    edges,
    roots,
    totals: { params: num(t.params), trainableParams: num(t.trainable_params), flops: num(t.flops), activationBytes: num(t.activation_bytes) },
  };
}

/** True when `anc` is `id` itself or one of its ancestors (guards against parent cycles). */
function isAncestor(byId: Map<string, GNode>, anc: string, id: string): boolean {
  let cur: string | null = id;
  for (let guard = 0; cur !== null && guard < 10_000; guard++) {
    if (cur === anc) return true;
    cur = byId.get(cur)?.parent ?? null;
  }
  return false;
}

/** Ancestors of a node, nearest first (the node itself excluded). */
export function ancestors(g: GraphModel, id: string): string[] {
  const out: string[] = [];
  let cur = g.byId.get(id)?.parent ?? null;
  while (cur !== null) {
    out.push(cur);
    cur = g.byId.get(cur)?.parent ?? null;
  }
  return out;
}

/** Containers (nodes with children) at depth below `depth`: "expand to depth" = these open. */
export function expandedToDepth(g: GraphModel, depth: number): Set<string> {
  return new Set(g.nodes.filter((n) => n.children.length > 0 && n.depth < depth).map((n) => n.id));
}

/** Deepest level whose children are all shown. */
export function maxDepth(g: GraphModel): number {
  return g.nodes.reduce((m, n) => Math.max(m, n.depth), 0);
}

/**
 * The default "expand to depth": the deepest level at which at most `budget` nodes are visible
 * (a GPT-2 shows its 12 blocks collapsed, a small CNN is fully open).
 */
export function defaultDepth(g: GraphModel, budget = 60): number {
  const perDepth = new Map<number, number>();
  for (const n of g.nodes) perDepth.set(n.depth, (perDepth.get(n.depth) ?? 0) + 1);
  let best = 0;
  let visible = 0;
  for (let d = 0; d <= maxDepth(g); d++) {
    visible += perDepth.get(d) ?? 0;
    if (visible > budget && d > 0) break;
    best = d;
  }
  return best;
}

export interface VisibleNode {
  id: string;
  /** Expanded container drawn as a box around its children. */
  group: boolean;
  /** Container drawn closed, as one node. */
  collapsed: boolean;
  /** The visible (expanded) container it is drawn inside, null at the top level. */
  parent: string | null;
  /** Nodes hidden inside a collapsed container. */
  hidden: number;
}

export interface VisibleEdge {
  id: string;
  source: string;
  target: string;
  /** Expanded container that holds both ends (ELK's edge container), null for the top level. */
  container: string | null;
  shape: number[] | null;
  dtype: string | null;
  /** Stored edges merged into this one. */
  count: number;
}

export interface VisibleGraph {
  nodes: VisibleNode[];
  edges: VisibleEdge[];
  /** Any node id -> the visible node that stands for it (itself or its closed ancestor). */
  rep: Map<string, string>;
}

function countDescendants(g: GraphModel, id: string): number {
  let n = 0;
  for (const c of g.byId.get(id)?.children ?? []) n += 1 + countDescendants(g, c);
  return n;
}

/**
 * The graph as drawn for a set of expanded containers: a node is visible when every ancestor is
 * expanded; a closed container stands for everything inside it; edges are rerouted to the
 * visible stand-ins of their ends, merged when they coincide, dropped when both ends fall into
 * the same closed container (or one end contains the other).
 */
export function visibleGraph(g: GraphModel, expanded: ReadonlySet<string>): VisibleGraph {
  const nodes: VisibleNode[] = [];
  const rep = new Map<string, string>();
  const mark = (id: string, to: string): void => {
    rep.set(id, to);
    for (const c of g.byId.get(id)?.children ?? []) mark(c, to);
  };
  const visit = (id: string, parent: string | null): void => {
    const n = g.byId.get(id) as GNode;
    const hasKids = n.children.length > 0;
    if (hasKids && expanded.has(id)) {
      nodes.push({ id, group: true, collapsed: false, parent, hidden: 0 });
      rep.set(id, id);
      for (const c of n.children) visit(c, id);
    } else {
      nodes.push({ id, group: false, collapsed: hasKids, parent, hidden: hasKids ? countDescendants(g, id) : 0 });
      mark(id, id);
    }
  };
  for (const r of g.roots) visit(r, null);

  const vparent = new Map(nodes.map((v) => [v.id, v.parent]));
  const chain = (id: string): string[] => {
    const out: string[] = [];
    for (let cur = vparent.get(id) ?? null; cur !== null; cur = vparent.get(cur) ?? null) out.push(cur);
    return out;
  };
  const edges: VisibleEdge[] = [];
  const seen = new Map<string, VisibleEdge>();
  for (const e of g.edges) {
    const s = rep.get(e.source);
    const t = rep.get(e.target);
    if (s === undefined || t === undefined || s === t) continue;
    const sUp = chain(s);
    const tUp = chain(t);
    if (sUp.includes(t) || tUp.includes(s)) continue;
    const key = `${s}\u0000${t}`;
    const prev = seen.get(key);
    if (prev) {
      prev.count += 1;
      continue;
    }
    const tSet = new Set(tUp);
    const container = sUp.find((a) => tSet.has(a)) ?? null;
    const ve: VisibleEdge = { id: `e${edges.length}`, source: s, target: t, container, shape: e.shape, dtype: e.dtype, count: 1 };
    seen.set(key, ve);
    edges.push(ve);
  }
  return { nodes, edges, rep };
}

/** Toggle one container; collapsing also closes everything inside it. */
export function toggleExpanded(g: GraphModel, expanded: ReadonlySet<string>, id: string): Set<string> {
  const next = new Set(expanded);
  if (next.has(id)) {
    const close = (x: string): void => {
      next.delete(x);
      for (const c of g.byId.get(x)?.children ?? []) close(c);
    };
    close(id);
  } else if ((g.byId.get(id)?.children.length ?? 0) > 0) next.add(id);
  return next;
}

/** Open every ancestor of the given nodes so they become visible. */
export function reveal(g: GraphModel, expanded: ReadonlySet<string>, ids: Iterable<string>): Set<string> {
  const next = new Set(expanded);
  for (const id of ids) for (const a of ancestors(g, id)) next.add(a);
  return next;
}

/** Nodes whose qualified name, label or type contains the query (case-insensitive), graph order. */
export function searchNodes(g: GraphModel, query: string): string[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  return g.nodes
    .filter((n) => n.name.toLowerCase().includes(q) || n.type.toLowerCase().includes(q) || n.label.toLowerCase().includes(q))
    .map((n) => n.id);
}

/** The short name drawn on a node: the last segment of the qualified name. */
export function shortName(n: GNode): string {
  if (n.kind === "op") return n.type;
  if (n.kind === "input" || n.kind === "output") return n.name.replace(/^(input|output):?/, "") || n.name;
  const dot = n.name.lastIndexOf(".");
  return dot >= 0 ? n.name.slice(dot + 1) : n.name;
}

export function formatShape(s: readonly number[] | null | undefined): string {
  if (!s) return "?";
  return `[${s.map((d) => (d < 0 ? "?" : String(d))).join(", ")}]`;
}

// ---- statistics and findings on visible nodes ----

export interface NodeValue {
  value: number;
  /** Layers the value summarises (1: the node itself). */
  n: number;
  min: number;
  max: number;
}

/**
 * One value per visible node from per-layer values (layer name = module id): a node's own value,
 * else, for a closed container, the mean over the layers inside it (geometric mean on a log
 * scale, ignoring values <= 0 there).
 */
export function valuesOnVisible(
  g: GraphModel,
  vis: VisibleGraph,
  perLayer: ReadonlyMap<string, number>,
  log: boolean,
): Map<string, NodeValue> {
  const groups = new Map<string, number[]>();
  for (const [layer, v] of perLayer) {
    // NaN is not recorded; +-Inf is shown (a run difference where one side is exactly 0)
    if (Number.isNaN(v) || (log && v <= 0)) continue;
    const r = vis.rep.get(layer);
    if (r === undefined) continue;
    if (r === layer) continue; // own values handled below
    const list = groups.get(r) ?? [];
    list.push(v);
    groups.set(r, list);
  }
  const out = new Map<string, NodeValue>();
  for (const v of vis.nodes) {
    if (v.group) continue;
    const own = perLayer.get(v.id);
    if (own !== undefined && !Number.isNaN(own)) {
      out.set(v.id, { value: own, n: 1, min: own, max: own });
      continue;
    }
    const list = groups.get(v.id);
    if (!list || list.length === 0) continue;
    const mean = log
      ? Math.exp(list.reduce((a, x) => a + Math.log(x), 0) / list.length)
      : list.reduce((a, x) => a + x, 0) / list.length;
    out.set(v.id, { value: mean, n: list.length, min: Math.min(...list), max: Math.max(...list) });
  }
  return out;
}

export type Severity = "info" | "warning" | "error";
const RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

export interface FindingLike {
  code: string;
  severity: Severity;
  layer: string | null;
  message: string;
  step?: number | null;
}

export interface NodeFindings<F extends FindingLike> {
  severity: Severity;
  findings: F[];
}

/**
 * Findings attached to the visible node that stands for their layer. `<root>` (the model's own
 * inputs) marks the input nodes; findings without a layer, or on a layer not in the graph, are
 * not drawn.
 */
export function findingsOnVisible<F extends FindingLike>(g: GraphModel, vis: VisibleGraph, findings: readonly F[]): Map<string, NodeFindings<F>> {
  const out = new Map<string, NodeFindings<F>>();
  const add = (id: string, f: F): void => {
    const cur = out.get(id);
    if (!cur) out.set(id, { severity: f.severity, findings: [f] });
    else {
      cur.findings.push(f);
      if (RANK[f.severity] > RANK[cur.severity]) cur.severity = f.severity;
    }
  };
  for (const f of findings) {
    if (f.layer === null) continue;
    const targets = f.layer === "<root>" ? g.nodes.filter((n) => n.kind === "input").map((n) => n.id) : [f.layer];
    for (const t of targets) {
      const r = vis.rep.get(t);
      if (r !== undefined) add(r, f);
    }
  }
  return out;
}

// ---- colour scale ----

export interface ColorScale {
  log: boolean;
  min: number;
  max: number;
  /** Differences between runs: blue - white - red, symmetric around 0. */
  diverging?: boolean;
}

/** A symmetric scale around 0 over the finite values (run differences); null when none. */
export function makeDivergingScale(values: Iterable<number | null | undefined>): ColorScale | null {
  let m = 0;
  let any = false;
  for (const v of values) {
    if (v === null || v === undefined || !Number.isFinite(v)) continue;
    any = true;
    m = Math.max(m, Math.abs(v));
  }
  return any ? { log: false, min: -(m || 1), max: m || 1, diverging: true } : null;
}

/** The colour at position t (0..1) of the scale's ramp. */
export function rampAt(s: ColorScale, t: number): [number, number, number] {
  return s.diverging ? diverging(t) : viridis(t);
}

/** Domain over the finite values (positive ones on a log scale); null when there are none. */
export function makeScale(values: Iterable<number | null | undefined>, log: boolean): ColorScale | null {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v === null || v === undefined || !Number.isFinite(v) || (log && v <= 0)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min <= max ? { log, min, max } : null;
}

/** Position of a value in the scale, 0..1 (clamped; non-positive values sit at 0 on a log scale). */
export function scalePosition(s: ColorScale, v: number): number {
  if (s.log) {
    if (v <= 0) return 0;
    const lo = Math.log10(s.min);
    const hi = Math.log10(s.max);
    return hi > lo ? Math.min(1, Math.max(0, (Math.log10(v) - lo) / (hi - lo))) : 0.5;
  }
  return s.max > s.min ? Math.min(1, Math.max(0, (v - s.min) / (s.max - s.min))) : 0.5;
}

/** The value at a position 0..1 (inverse of scalePosition inside the domain). */
export function scaleValue(s: ColorScale, t: number): number {
  if (s.log) return Math.pow(10, Math.log10(s.min) + t * (Math.log10(s.max) - Math.log10(s.min)));
  return s.min + t * (s.max - s.min);
}

export function scaleColor(s: ColorScale, v: number): string {
  const [r, g, b] = rampAt(s, scalePosition(s, v));
  return `rgb(${r}, ${g}, ${b})`;
}

/** Dark text on the light part of the ramp, light text on the dark part. */
export function textOn(s: ColorScale, v: number): string {
  const t = scalePosition(s, v);
  if (s.diverging) return Math.abs(t - 0.5) > 0.3 ? "#ffffff" : "#1d232b";
  return t > 0.55 ? "#1d232b" : "#ffffff";
}

/** Legend ticks: decades on a log scale spanning at least one decade, else evenly spaced. */
export function legendTicks(s: ColorScale, count = 5): number[] {
  if (s.log) {
    const lo = Math.ceil(Math.log10(s.min));
    const hi = Math.floor(Math.log10(s.max));
    if (hi - lo >= 1) {
      const step = Math.max(1, Math.ceil((hi - lo + 1) / count));
      const out: number[] = [];
      for (let e = lo; e <= hi; e += step) out.push(Math.pow(10, e));
      return out;
    }
  }
  if (s.max === s.min) return [s.min];
  return Array.from({ length: count }, (_, i) => scaleValue(s, i / (count - 1)));
}
