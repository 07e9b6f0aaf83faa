import { describe, expect, it } from "vitest";
import {
  defaultDepth,
  expandedToDepth,
  findingsOnVisible,
  legendTicks,
  makeScale,
  parseGraph,
  reveal,
  scaleColor,
  scalePosition,
  searchNodes,
  shortName,
  toggleExpanded,
  valuesOnVisible,
  visibleGraph,
  type FindingLike,
} from "../src/lib/graphModel";
import { demoCnn, gpt2Like } from "./graphFixtures";

const cnn = () => parseGraph(demoCnn());
const gpt = () => parseGraph({ format: "deepscope.graph/1", ...gpt2Like() });

describe("parseGraph", () => {
  it("builds the tree from parent links", () => {
    const g = cnn();
    expect(g.roots).toEqual(["input:x", "features", "::flatten", "fc1", "output"]);
    expect(g.byId.get("features")?.children).toEqual(["features.0", "features.1", "features.2"]);
    expect(g.byId.get("features.1")?.depth).toBe(1);
    expect(g.edges).toHaveLength(6);
  });
  it("repairs missing parents, duplicate ids and dangling edges, rejects non-graphs", () => {
    const g = parseGraph({
      nodes: [
        { id: "a", parent: "ghost", kind: "module" },
        { id: "a", parent: null },
        { id: "b", parent: "a", kind: "weird" },
        "junk",
      ],
      edges: [{ source: "a", target: "b" }, { source: "a", target: "nope" }],
    });
    expect(g.roots).toEqual(["a"]);
    expect(g.byId.get("b")?.kind).toBe("module");
    expect(g.edges).toHaveLength(1);
    expect(() => parseGraph(null)).toThrow(/not a deepscope graph/);
    expect(() => parseGraph({ nodes: "x" })).toThrow();
  });
  it("survives a parent cycle", () => {
    const g = parseGraph({ nodes: [{ id: "a", parent: "b" }, { id: "b", parent: "a" }], edges: [] });
    expect(g.roots.length).toBeGreaterThan(0);
    expect(visibleGraph(g, new Set(["a", "b"])).nodes.length).toBe(2);
  });
});

describe("visible graph", () => {
  it("collapses a container into one node and reroutes its edges", () => {
    const g = cnn();
    const v = visibleGraph(g, new Set());
    expect(v.nodes.map((n) => n.id)).toEqual(["input:x", "features", "::flatten", "fc1", "output"]);
    const f = v.nodes.find((n) => n.id === "features");
    expect(f).toMatchObject({ collapsed: true, group: false, hidden: 3 });
    expect(v.edges.map((e) => `${e.source}>${e.target}`)).toEqual(["input:x>features", "features>::flatten", "::flatten>fc1", "fc1>output"]);
    expect(v.rep.get("features.1")).toBe("features");
  });
  it("draws an expanded container as a group holding its children", () => {
    const g = cnn();
    const v = visibleGraph(g, new Set(["features"]));
    expect(v.nodes.find((n) => n.id === "features")).toMatchObject({ group: true, collapsed: false });
    expect(v.nodes.find((n) => n.id === "features.1")?.parent).toBe("features");
    const inner = v.edges.find((e) => e.source === "features.0");
    expect(inner?.container).toBe("features");
    const cross = v.edges.find((e) => e.source === "input:x");
    expect(cross?.target).toBe("features.0");
    expect(cross?.container).toBeNull();
  });
  it("merges edges that coincide after collapsing and counts them", () => {
    const g = parseGraph({
      nodes: [{ id: "in" }, { id: "blk" }, { id: "blk.a", parent: "blk" }, { id: "blk.b", parent: "blk" }],
      edges: [{ source: "in", target: "blk.a" }, { source: "in", target: "blk.b" }, { source: "blk.a", target: "blk.b" }],
    });
    const v = visibleGraph(g, new Set());
    expect(v.edges).toHaveLength(1);
    expect(v.edges[0]).toMatchObject({ source: "in", target: "blk", count: 2 });
  });
  it("opens the GPT-2 blocks collapsed by default and counts every node fully open", () => {
    const g = gpt();
    expect(g.nodes.length).toBeGreaterThanOrEqual(340);
    const d = defaultDepth(g);
    expect(d).toBe(2);
    const v = visibleGraph(g, expandedToDepth(g, d));
    expect(v.nodes.filter((n) => n.collapsed).map((n) => n.id)).toHaveLength(12);
    expect(v.nodes.length).toBeLessThanOrEqual(60);
    const all = visibleGraph(g, expandedToDepth(g, 99));
    expect(all.nodes).toHaveLength(g.nodes.length);
    expect(all.edges).toHaveLength(g.edges.length);
    expect(defaultDepth(cnn())).toBe(1);
  });
  it("toggles: collapsing closes the inside too; reveal opens ancestors", () => {
    const g = gpt();
    let open = reveal(g, new Set(), ["transformer.h.3.mlp.act"]);
    expect([...open].sort()).toEqual(["transformer", "transformer.h", "transformer.h.3", "transformer.h.3.mlp"]);
    open = toggleExpanded(g, open, "transformer.h");
    expect(open.has("transformer.h.3")).toBe(false);
    expect(open.has("transformer")).toBe(true);
    expect(toggleExpanded(g, open, "lm_head").has("lm_head")).toBe(false); // a leaf never opens
  });
});

describe("search and names", () => {
  it("matches names and types case-insensitively", () => {
    const g = cnn();
    expect(searchNodes(g, "FC1")).toEqual(["fc1"]);
    expect(searchNodes(g, "conv2d")).toEqual(["features.0", "features.2"]);
    expect(searchNodes(g, "  ")).toEqual([]);
  });
  it("draws the last segment of a module name, the op type, the input name", () => {
    const g = gpt();
    expect(shortName(g.byId.get("transformer.h.0.attn.c_attn")!)).toBe("c_attn");
    expect(shortName(g.byId.get("transformer::add")!)).toBe("add");
    expect(shortName(g.byId.get("input:input_ids")!)).toBe("input_ids");
  });
});

describe("statistics and findings on visible nodes", () => {
  it("keeps own values and averages inside closed containers (geometric on log scales)", () => {
    const g = cnn();
    const v = visibleGraph(g, new Set());
    const vals = valuesOnVisible(g, v, new Map([["features.0", 1], ["features.2", 100], ["fc1", 3]]), true);
    expect(vals.get("fc1")).toMatchObject({ value: 3, n: 1 });
    const f = vals.get("features")!;
    expect(f.value).toBeCloseTo(10);
    expect(f).toMatchObject({ n: 2, min: 1, max: 100 });
    const lin = valuesOnVisible(g, v, new Map([["features.0", 0], ["features.2", 0.5]]), false);
    expect(lin.get("features")!.value).toBeCloseTo(0.25);
  });
  it("marks findings on the visible stand-in with the highest severity; <root> marks the inputs", () => {
    const g = cnn();
    const v = visibleGraph(g, new Set());
    const fs: FindingLike[] = [
      { code: "dead_units", severity: "warning", layer: "features.1", message: "dead" },
      { code: "nonfinite", severity: "error", layer: "features.2", message: "nan" },
      { code: "unnormalized_inputs", severity: "warning", layer: "<root>", message: "raw" },
      { code: "loss_plateau", severity: "warning", layer: null, message: "flat" },
    ];
    const on = findingsOnVisible(g, v, fs);
    expect(on.get("features")?.severity).toBe("error");
    expect(on.get("features")?.findings).toHaveLength(2);
    expect(on.get("input:x")?.findings[0]?.code).toBe("unnormalized_inputs");
    expect(on.size).toBe(2);
  });
});

describe("colour scale", () => {
  it("spans positive values on a log scale and clamps", () => {
    const s = makeScale([0.001, 10, 0, null, Number.NaN], true)!;
    expect(s).toEqual({ log: true, min: 0.001, max: 10 });
    expect(scalePosition(s, 0.001)).toBe(0);
    expect(scalePosition(s, 10)).toBe(1);
    expect(scalePosition(s, 0.1)).toBeCloseTo(0.5);
    expect(scalePosition(s, 0)).toBe(0);
    expect(scalePosition(s, 1e9)).toBe(1);
    expect(scaleColor(s, 10)).toBe("rgb(253, 231, 37)");
    expect(legendTicks(s)).toEqual([0.001, 0.01, 0.1, 1, 10]);
  });
  it("is linear when asked, degenerate domains sit in the middle, empty gives null", () => {
    const s = makeScale([0, 0.5, 1], false)!;
    expect(scalePosition(s, 0.25)).toBeCloseTo(0.25);
    expect(legendTicks(s, 3)).toEqual([0, 0.5, 1]);
    const one = makeScale([2, 2], true)!;
    expect(scalePosition(one, 2)).toBe(0.5);
    expect(makeScale([null, -1], true)).toBeNull();
  });
});
