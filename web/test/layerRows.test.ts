import { describe, expect, it } from "vitest";
import type { StatMatrix } from "../src/api/types";
import { aggregate, anomalyScores, blockIds, blockOf, buildRows, diffMatrix, groupByDefault, labelledRows, type RowOptions } from "../src/lib/layerRows";

const OPTS: RowOptions = { grouped: true, expanded: new Set(), sort: "order", query: "", log: true, scoring: "deviation" };

function gpt(blocks: number): StatMatrix {
  const layers = ["transformer.wte", "transformer.wpe"];
  for (let b = 0; b < blocks; b++) for (const part of ["ln_1", "attn.c_attn", "attn.c_proj", "ln_2", "mlp.c_fc", "mlp.c_proj"]) layers.push(`transformer.h.${b}.${part}`);
  layers.push("transformer.ln_f", "lm_head");
  return { kind: "grad", field: "norm", layers, steps: [0, 10], values: layers.map(() => [1, 2]) };
}

describe("blockOf", () => {
  it("names the numbered block a layer sits in", () => {
    expect(blockOf("transformer.h.12.attn.c_attn")).toBe("transformer.h.12");
    expect(blockOf("layers.3.0.conv")).toBe("layers.3");
    expect(blockOf("features.0")).toBeNull(); // a numbered leaf is not a block
    expect(blockOf("lm_head")).toBeNull();
  });
});

describe("buildRows", () => {
  it("collapses blocks and keeps other layers as rows", () => {
    const m = gpt(24);
    expect(groupByDefault(m.layers)).toBe(true);
    const rows = buildRows(m, OPTS);
    expect(rows.length).toBe(24 + 4);
    expect(rows[2]).toMatchObject({ id: "block:transformer.h.0", group: true, expanded: false });
    expect(rows[2]?.layers.length).toBe(6);
    expect(rows.at(-1)?.id).toBe("lm_head");
  });
  it("expands a block in place", () => {
    const rows = buildRows(gpt(3), { ...OPTS, expanded: new Set(["block:transformer.h.1"]) });
    const i = rows.findIndex((r) => r.id === "block:transformer.h.1");
    expect(rows[i + 1]).toMatchObject({ id: "transformer.h.1.ln_1", depth: 1 });
    expect(rows.length).toBe(3 + 4 + 6);
    expect(blockIds(gpt(3).layers)).toEqual(["block:transformer.h.0", "block:transformer.h.1", "block:transformer.h.2"]);
  });
  it("search shows only matching layers, inside their open blocks", () => {
    const rows = buildRows(gpt(4), { ...OPTS, query: "c_proj h.2" });
    expect(rows.map((r) => r.id)).toEqual(["block:transformer.h.2", "transformer.h.2.attn.c_proj", "transformer.h.2.mlp.c_proj"]);
  });
  it("puts the most anomalous rows first, blocks by their worst layer", () => {
    const m = gpt(4);
    const bad = m.layers.indexOf("transformer.h.2.mlp.c_fc");
    m.values[bad] = [1e-6, 1e-7];
    const rows = buildRows(m, { ...OPTS, sort: "anomaly" });
    expect(rows[0]?.id).toBe("block:transformer.h.2");
    const open = buildRows(m, { ...OPTS, sort: "anomaly", expanded: new Set(["block:transformer.h.2"]) });
    expect(open[1]?.id).toBe("transformer.h.2.mlp.c_fc");
    const flat = buildRows(m, { ...OPTS, grouped: false, sort: "anomaly" });
    expect(flat[0]?.id).toBe("transformer.h.2.mlp.c_fc");
    expect(flat.length).toBe(m.layers.length);
  });
});

describe("aggregate and scores", () => {
  it("geometric mean on log scales; Inf and all-zero blocks show", () => {
    expect(aggregate([1, 100, null], true)).toBeCloseTo(10);
    expect(aggregate([0.2, 0.4], false)).toBeCloseTo(0.3);
    expect(aggregate([1, Infinity], true)).toBe(Infinity);
    expect(aggregate([0, 0], true)).toBe(0);
    expect(aggregate([null, null], true)).toBeNull();
  });
  it("zero gradient norms and non-finite values rank first", () => {
    const s = anomalyScores([[1, 1], [0, 1], [1, 2], [Infinity, 1]], true, "deviation");
    expect(s[1]).toBe(Infinity);
    expect(s[3]).toBe(Infinity);
    expect(s[2]).toBeGreaterThan(s[0] as number);
    expect(anomalyScores([[0.1], [0.9]], false, "magnitude")).toEqual([0.1, 0.9]);
  });
});

describe("diffMatrix", () => {
  it("compares layers by name and steps by nearest sample", () => {
    const a: StatMatrix = { kind: "grad", field: "norm", layers: ["x", "y"], steps: [0, 10, 20], values: [[10, 10, 10], [1, 0, 5]] };
    const b: StatMatrix = { kind: "grad", field: "norm", layers: ["y", "z"], steps: [0, 11], values: [[1, 1], [3, 3]] };
    const d = diffMatrix(a, b, true);
    expect(d.layers).toEqual(["x", "y", "z"]);
    expect(d.values[0]).toEqual([null, null, null]); // x is not in B
    expect(d.values[1]?.[0]).toBe(0);
    expect(d.values[1]?.[1]).toBe(-Infinity); // A's norm is exactly 0
    expect(d.values[1]?.[2]).toBeNull(); // B has no step near 20
    expect(diffMatrix(a, b, false).values[1]?.[0]).toBe(0);
  });
});

describe("labelledRows", () => {
  it("names every block row and the layer rows that fit between them", () => {
    // block, 6 layers, block, 6 layers; one label per 3 rows
    const group = [true, false, false, false, false, false, false, true, false, false, false, false, false, false];
    const named = labelledRows(group, 3);
    expect(named[0]).toBe(true);
    expect(named[7]).toBe(true);
    const idx = named.flatMap((n, k) => (n ? [k] : []));
    expect(idx).toEqual([0, 3, 7, 10, 13]);
    // no two names closer than 3 rows
    idx.slice(1).forEach((k, i) => expect(k - (idx[i] as number)).toBeGreaterThanOrEqual(3));
  });
  it("names every row when there is room", () => {
    expect(labelledRows([true, false, true], 1)).toEqual([true, true, true]);
  });
});
