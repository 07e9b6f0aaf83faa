import { describe, expect, it } from "vitest";
import { NotRecordedError } from "../src/api/errors";
import { ReportApi } from "../src/api/report";
import type { ReportPayload, RunDetail } from "../src/api/types";

const run = { id: "r1", name: "run one", tags: ["train/loss"], layers: 2, kinds: ["grad"] } as unknown as RunDetail;
const n = 1000;
const payload: ReportPayload = {
  runs: [run],
  scalars: {
    r1: {
      "train/loss": {
        tag: "train/loss",
        steps: Array.from({ length: n }, (_, i) => i),
        values: Array.from({ length: n }, (_, i) => (i === 500 ? 99 : 1 / (1 + i))),
        walls: Array.from({ length: n }, (_, i) => i),
        total_points: n,
        downsampled: false,
      },
    },
  },
  stats: {
    r1: {
      "grad/norm": { kind: "grad", field: "norm", layers: ["a", "b/c"], steps: [0, 5], values: [[1, 2], [3, 4]] },
      "grad/max": { kind: "grad", field: "max", layers: ["a", "b/c"], steps: [0, 5], values: [[5, 6], [7, 8]] },
    },
  },
  histograms: { r1: { "grad/b/c": { layer: "b/c", kind: "grad", steps: [0], lo: [0], hi: [1], counts: [[1, 2]] } } },
};

describe("ReportApi", () => {
  const api = new ReportApi(payload);
  it("answers from the payload", async () => {
    expect((await api.runs()).map((r) => r.name)).toEqual(["run one"]);
    expect(await api.scalarTags("r1")).toEqual(["train/loss"]);
    expect((await api.histograms("r1", "b/c", "grad")).counts).toEqual([[1, 2]]);
  });
  it("windows and downsamples scalars like the server, keeping the spike", async () => {
    const s = await api.scalars("r1", "train/loss", { maxPoints: 100, start: 400, end: 700 });
    expect(s.steps.length).toBeLessThanOrEqual(100);
    expect(s.steps[0]).toBe(400);
    expect(s.steps[s.steps.length - 1]).toBe(700);
    expect(s.values).toContain(99);
    expect(s.downsampled).toBe(true);
  });
  it("rebuilds a layer's statistics from the embedded matrices", async () => {
    const s = await api.statSeries("r1", "b/c", "grad");
    expect(s.steps).toEqual([0, 5]);
    expect(s.fields).toEqual({ norm: [3, 4], max: [7, 8] });
  });
  it("reports what is missing as not recorded", async () => {
    await expect(api.graph("r1")).rejects.toBeInstanceOf(NotRecordedError);
    await expect(api.statMatrix("r1", "activation", "std")).rejects.toBeInstanceOf(NotRecordedError);
    await expect(api.run("nope")).rejects.toBeInstanceOf(NotRecordedError);
    expect(await api.findings("r1")).toEqual({ ok: true, findings: [] });
  });
  it("only hands out data: URIs for blobs", () => {
    const a = new ReportApi({
      runs: [run],
      artifacts: { r1: [{ info: { id: 1, name: "x", kind: "k", step: null, wall: 0, blob_keys: ["p", "q"] }, data: {}, blobs: { p: "data:image/png;base64,AAAA", q: "https://evil.example/x.png" } }] },
    });
    expect(a.blobUrl("r1", 1, "p")).toBe("data:image/png;base64,AAAA");
    expect(a.blobUrl("r1", 1, "q")).toBe("");
  });
});
