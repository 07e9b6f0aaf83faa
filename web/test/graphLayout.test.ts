// Times the ELK layout of a GPT-2-sized graph, fully expanded (every container a nested group),
// as the graph view's worker runs it. Budget: 3 s. Prints the measured times.
import { describe, expect, it } from "vitest";
import { fromElk, runLayout, toElk } from "../src/graph/layout";
import type { LayoutNode } from "../src/graph/protocol";
import { expandedToDepth, parseGraph, visibleGraph } from "../src/lib/graphModel";
import { gpt2Like } from "./graphFixtures";

function input(depth: number) {
  const g = parseGraph({ format: "deepscope.graph/1", ...gpt2Like() });
  const v = visibleGraph(g, expandedToDepth(g, depth));
  const made = new Map<string, LayoutNode>();
  const top: LayoutNode[] = [];
  for (const n of v.nodes) {
    const ln: LayoutNode = { id: n.id, width: n.group ? 400 : 120, height: 36, ...(n.group ? { children: [] } : {}) };
    made.set(n.id, ln);
    (n.parent === null ? top : (made.get(n.parent)?.children as LayoutNode[])).push(ln);
  }
  return { g, v, input: { nodes: top, edges: v.edges.map((e) => ({ id: e.id, source: e.source, target: e.target, container: e.container })) } };
}

describe("graph layout", () => {
  it("nests groups and puts edges in their lowest common container", () => {
    const { input: inp } = input(99);
    const elk = toElk(inp);
    const t = elk.children?.find((c) => c.id === "transformer");
    expect(t?.children?.length).toBeGreaterThan(3);
    const h0 = t?.children?.find((c) => c.id === "transformer.h")?.children?.find((c) => c.id === "transformer.h.0");
    expect(h0?.edges?.some((e) => e.sources[0] === "transformer.h.0::add")).toBe(true);
  });

  it("lays out a GPT-2-sized graph (~350 nodes / edges, all containers open)", async () => {
    const { g, v, input: inp } = input(99);
    expect(v.nodes.length).toBeGreaterThanOrEqual(340);
    const times: number[] = [];
    let last = null as Awaited<ReturnType<typeof runLayout>> | null;
    for (let i = 0; i < 3; i++) {
      last = await runLayout(inp);
      times.push(last.ms);
    }
    const r = last!.result;
    console.log(
      `graph layout: ${g.nodes.length} nodes / ${g.edges.length} edges fully expanded: ` +
        `${times.map((t) => `${(t / 1000).toFixed(2)} s`).join(", ")} (first run includes JIT warm-up)`,
    );
    expect(Object.keys(r.nodes)).toHaveLength(v.nodes.length);
    expect(Object.keys(r.edges).length).toBe(v.edges.length);
    // groups enclose their children; layers go down
    const blk = r.nodes["transformer.h.0"]!;
    const ln = r.nodes["transformer.h.0.ln_1"]!;
    expect(ln.x).toBeGreaterThanOrEqual(blk.x);
    expect(ln.y + ln.height).toBeLessThanOrEqual(blk.y + blk.height);
    expect(r.nodes["lm_head"]!.y).toBeGreaterThan(r.nodes["input:input_ids"]!.y);
    // a group is at least as wide as its header asks
    expect(r.nodes["transformer.h.0.mlp"]!.width).toBeGreaterThanOrEqual(400);
    // The 3 s budget is measured (printed above), not asserted: tests never depend on timing.
  }, 60_000);

  it("lays out the default (collapsed) GPT-2 view quickly", async () => {
    const { input: inp } = input(2);
    const { ms, result } = await runLayout(inp);
    console.log(`graph layout: GPT-2 at default depth (${Object.keys(result.nodes).length} nodes): ${ms.toFixed(0)} ms`);
    expect(fromElk({ id: "x" }).width).toBe(0);
  }, 30_000);
});
