// Tooltip content for nodes and edges of the graph view: plain DOM built with el(), every value
// a text node.

import { el, severityBadge } from "../dom";
import { formatCount, formatNumber } from "../lib/format";
import { formatShape, type FindingLike, type GNode, type NodeValue, type VisibleEdge } from "../lib/graphModel";

function bytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(2)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function row(label: string, value: string): HTMLElement {
  return el("div", "tip-row", el("span", "tip-key", label), el("span", "tip-val", value));
}

function shapesText(list: readonly number[][]): string {
  return list.length ? list.map((s) => formatShape(s)).join(", ") : "–";
}

export interface NodeTipInput {
  node: GNode;
  hidden: number;
  group: boolean;
  stat?: { label: string; step: number | null; value: NodeValue | undefined };
  findings: readonly FindingLike[];
}

export function nodeTip(x: NodeTipInput): HTMLElement {
  const n = x.node;
  const box = el(
    "div",
    null,
    el("div", "tip-title", el("code", null, n.name)),
    el("div", "tip-type", `${n.type} · ${n.kind}${n.calls > 1 ? ` · called ${n.calls}×` : ""}`),
  );
  if (n.inputShapes.length) box.appendChild(row("input shape", shapesText(n.inputShapes)));
  if (n.outputShapes.length) box.appendChild(row("output shape", shapesText(n.outputShapes)));
  if (n.kind !== "module" && !n.inputShapes.length && !n.outputShapes.length) box.appendChild(row("shape", "not recorded"));
  if (n.kind === "module" && !n.outputShapes.length && n.children.length === 0) box.appendChild(row("shape", "not called in the traced forward pass"));
  if (n.dtype) box.appendChild(row("dtype", n.dtype));
  if (n.params) box.appendChild(row("parameters", `${formatCount(n.params)}${n.trainableParams !== n.params ? ` (${formatCount(n.trainableParams)} trainable)` : ""}`));
  if (n.flops) box.appendChild(row("FLOPs (forward)", formatCount(n.flops)));
  if (n.activationBytes) box.appendChild(row("activation memory", bytes(n.activationBytes)));
  if (x.stat) {
    const v = x.stat.value;
    const at = x.stat.step === null ? "" : ` at step ${x.stat.step}`;
    if (!v) box.appendChild(row(x.stat.label, `not recorded${at}`));
    else if (v.n === 1) box.appendChild(row(`${x.stat.label}${at}`, formatNumber(v.value, 4)));
    else box.appendChild(row(`${x.stat.label}${at}`, `${formatNumber(v.value, 4)} (mean of ${v.n} layers inside, ${formatNumber(v.min, 3)} – ${formatNumber(v.max, 3)})`));
  }
  if (x.hidden) box.appendChild(el("div", "tip-note", `${x.hidden} nodes inside: click + or double-click to expand`));
  else if (x.group) box.appendChild(el("div", "tip-note", "click − or double-click the frame to collapse"));
  for (const f of x.findings) {
    box.appendChild(el("div", "tip-finding", severityBadge(f.severity), " ", el("span", null, f.message)));
  }
  return box;
}

export function edgeTip(e: VisibleEdge, source: GNode | undefined, target: GNode | undefined): HTMLElement {
  return el(
    "div",
    null,
    el("div", "tip-title", el("code", null, source?.name ?? e.source), " → ", el("code", null, target?.name ?? e.target)),
    row("shape", formatShape(e.shape)),
    e.dtype ? row("dtype", e.dtype) : null,
    e.count > 1 ? el("div", "tip-note", `${e.count} tensors between these nodes (merged while collapsed)`) : null,
  );
}
