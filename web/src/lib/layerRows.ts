// Rows of the layer-health heatmap for models of any size: layers grouped by block
// (`transformer.h.7.attn.c_attn` belongs to `transformer.h.7`), collapsed blocks aggregated,
// rows filtered by a search and ordered by how anomalous they look. Pure functions (vitest).
import type { StatMatrix } from "../api/types";
import { matchesFilter } from "./table";

export type Cell = number | null;

/** The numbered block a layer belongs to: the name up to its first index followed by more parts. */
export function blockOf(name: string): string | null {
  const parts = name.split(".");
  for (let i = 0; i < parts.length - 1; i++) if (/^\d+$/.test(parts[i] as string)) return parts.slice(0, i + 1).join(".");
  return null;
}

export interface Row {
  /** A layer name, or `block:<block>` for a block row. */
  id: string;
  label: string;
  group: boolean;
  /** 1 for a layer shown inside an expanded block. */
  depth: number;
  expanded: boolean;
  /** The layers this row stands for (one for a layer row). */
  layers: string[];
  values: Cell[];
  score: number;
  /** Some layer of a collapsed block holds an exact 0 (log scales) or a non-finite value. */
  flag: "zero" | "nonfinite" | null;
}

export interface RowOptions {
  /** Group layers into blocks (collapsed unless in `expanded`). */
  grouped: boolean;
  expanded: ReadonlySet<string>;
  sort: "order" | "anomaly";
  query: string;
  /** The statistic is shown on a log scale (norms, ratios): aggregate and score in log10. */
  log: boolean;
  /** deviation: distance from the other layers at the same step; magnitude: the value itself. */
  scoring: "deviation" | "magnitude";
}

/** Mean over the layers of a block at one step: geometric on log scales; non-finite wins. */
export function aggregate(cells: readonly Cell[], log: boolean): Cell {
  let n = 0;
  let sum = 0;
  let zeros = 0;
  for (const v of cells) {
    if (v === null || Number.isNaN(v)) continue;
    if (!Number.isFinite(v)) return v; // an Inf inside a block must show on the block
    if (log && v <= 0) {
      zeros += 1;
      continue;
    }
    sum += log ? Math.log10(v) : v;
    n += 1;
  }
  if (n === 0) return zeros > 0 ? 0 : null;
  return log ? Math.pow(10, sum / n) : sum / n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * How anomalous each row of `values` is. deviation: the largest distance, over steps, from the
 * median of all layers at that step in robust standard deviations (MAD), in log10 on log scales;
 * magnitude: the largest |value|. Non-finite values, and exact zeros on log scales (a gradient
 * norm of 0), rank first.
 */
export function anomalyScores(values: readonly (readonly Cell[])[], log: boolean, scoring: "deviation" | "magnitude"): number[] {
  const flag = (v: Cell): boolean => v !== null && !Number.isNaN(v) && (!Number.isFinite(v) || (log && v <= 0));
  const t = (v: Cell): number | null => (v === null || !Number.isFinite(v) || (log && v <= 0) ? null : log ? Math.log10(v) : v);
  const scores = values.map((row) => (row.some(flag) ? Infinity : 0));
  const steps = Math.max(0, ...values.map((r) => r.length));
  for (let j = 0; j < steps; j++) {
    const col = values.map((r) => t(r[j] ?? null));
    const known = col.filter((v): v is number => v !== null);
    if (!known.length) continue;
    const med = scoring === "deviation" ? median(known) : 0;
    const mad = scoring === "deviation" ? Math.max(1.4826 * median(known.map((v) => Math.abs(v - med))), log ? 0.05 : 1e-6) : 1;
    col.forEach((v, i) => {
      if (v !== null) scores[i] = Math.max(scores[i] as number, Math.abs(v - med) / mad);
    });
  }
  return scores;
}

interface Block {
  id: string;
  label: string;
  members: number[];
}

function blocks(layers: readonly string[], grouped: boolean): Block[] {
  const out: Block[] = [];
  const byBlock = new Map<string, Block>();
  layers.forEach((name, i) => {
    const b = grouped ? blockOf(name) : null;
    if (b === null) {
      out.push({ id: name, label: name, members: [i] });
      return;
    }
    let block = byBlock.get(b);
    if (!block) {
      block = { id: `block:${b}`, label: b, members: [] };
      byBlock.set(b, block);
      out.push(block);
    }
    block.members.push(i);
  });
  // A "block" of one layer is just that layer.
  return out.map((b) => (b.id.startsWith("block:") && b.members.length === 1 ? { id: layers[b.members[0] as number] as string, label: layers[b.members[0] as number] as string, members: b.members } : b));
}

/** The rows to draw, in order: blocks (collapsed or followed by their layers) and single layers. */
export function buildRows(m: StatMatrix, o: RowOptions): Row[] {
  const scores = anomalyScores(m.values, o.log, o.scoring);
  const matches = (i: number): boolean => matchesFilter([m.layers[i] as string], o.query);
  const searching = o.query.trim().length > 0;
  const byScore = (a: number, b: number): number => (o.sort === "anomaly" ? (scores[b] as number) - (scores[a] as number) || a - b : a - b);
  const rows: { row: Row; key: number; children: Row[] }[] = [];
  for (const b of blocks(m.layers, o.grouped)) {
    const members = b.members.filter(matches).sort(byScore);
    if (!members.length) continue;
    const top = Math.max(...members.map((i) => scores[i] as number));
    const key = o.sort === "anomaly" ? top : (b.members[0] as number);
    const layerRow = (i: number, depth: number): Row => ({ id: m.layers[i] as string, label: m.layers[i] as string, group: false, depth, expanded: false, layers: [m.layers[i] as string], values: m.values[i] ?? [], score: scores[i] as number, flag: null });
    if (!b.id.startsWith("block:")) {
      rows.push({ row: layerRow(members[0] as number, 0), key, children: [] });
      continue;
    }
    const expanded = searching || o.expanded.has(b.id);
    const values = m.steps.map((_, j) => aggregate(members.map((i) => m.values[i]?.[j] ?? null), o.log));
    const cells = members.flatMap((i) => m.values[i] ?? []);
    const flag = cells.some((v) => v !== null && !Number.isNaN(v) && !Number.isFinite(v)) ? "nonfinite" : o.log && cells.some((v) => v === 0) ? "zero" : null;
    const row: Row = { id: b.id, label: b.label, group: true, depth: 0, expanded, layers: members.map((i) => m.layers[i] as string), values, score: top, flag };
    rows.push({ row, key, children: expanded ? members.map((i) => layerRow(i, 1)) : [] });
  }
  if (o.sort === "anomaly") rows.sort((a, b) => b.key - a.key || m.layers.indexOf(a.row.layers[0] as string) - m.layers.indexOf(b.row.layers[0] as string));
  return rows.flatMap((r) => [r.row, ...r.children]);
}

/** Block ids of a matrix (for expand-all). */
export function blockIds(layers: readonly string[]): string[] {
  return blocks(layers, true).filter((b) => b.id.startsWith("block:")).map((b) => b.id);
}

/** Should a run with this many layers start grouped? (a few dozen rows stay readable flat) */
export function groupByDefault(layers: readonly string[]): boolean {
  return layers.length > 60 && blockIds(layers).length > 1;
}

function medianGap(steps: readonly number[]): number {
  const gaps = steps.slice(1).map((s, i) => s - (steps[i] as number)).filter((g) => g > 0);
  return gaps.length ? median(gaps) : 0;
}

/**
 * Run A minus run B per layer and step (layers by name, steps matched to the nearest step of B
 * within one sampling interval). Log scales compare in log10 (log10 A/B: +1 means A is ten times
 * B). Missing on either side: null. A zero or non-finite side gives +-Infinity.
 */
export function diffMatrix(a: StatMatrix, b: StatMatrix, log: boolean): StatMatrix {
  const layers = [...a.layers, ...b.layers.filter((l) => !a.layers.includes(l))];
  const gap = Math.max(medianGap(b.steps), 0);
  const match = a.steps.map((s) => {
    let best = -1;
    for (let j = 0; j < b.steps.length; j++) if (best < 0 || Math.abs((b.steps[j] as number) - s) < Math.abs((b.steps[best] as number) - s)) best = j;
    return best >= 0 && Math.abs((b.steps[best] as number) - s) <= gap / 2 ? best : -1;
  });
  const rowOf = (m: StatMatrix, name: string): readonly Cell[] | null => {
    const i = m.layers.indexOf(name);
    return i < 0 ? null : (m.values[i] ?? null);
  };
  const values = layers.map((name) => {
    const ra = rowOf(a, name);
    const rb = rowOf(b, name);
    return a.steps.map((_, i) => {
      const va = ra?.[i] ?? null;
      const j = match[i] as number;
      const vb = rb && j >= 0 ? (rb[j] ?? null) : null;
      if (va === null || vb === null || Number.isNaN(va) || Number.isNaN(vb)) return null;
      if (!log) return va - vb;
      if (va === vb) return 0;
      const d = Math.log10(va) - Math.log10(vb); // 0 or Inf on one side: +-Infinity
      return Number.isNaN(d) ? null : d;
    });
  });
  return { kind: a.kind, field: a.field, layers, steps: a.steps, values };
}

/**
 * Which of the visible rows get a name, when rows are too thin for one each (`every`: rows per
 * label line). Block rows come first (each block's name stays readable), spaced `every` apart;
 * layer rows are named where a label fits between the named rows around them.
 */
export function labelledRows(group: readonly boolean[], every: number): boolean[] {
  const out = group.map(() => false);
  let lastGroup = -Infinity;
  group.forEach((g, k) => {
    if (g && k - lastGroup >= every) {
      out[k] = true;
      lastGroup = k;
    }
  });
  let last = -Infinity;
  let next = out.indexOf(true);
  for (let k = 0; k < out.length; k++) {
    if (out[k]) {
      last = k;
      next = out.indexOf(true, k + 1);
      continue;
    }
    if (k - last >= every && (next === -1 || next - k >= every)) {
      out[k] = true;
      last = k;
    }
  }
  return out;
}
