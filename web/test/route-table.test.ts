import { describe, expect, it } from "vitest";
import { formatRoute, parseHash, routeRunIds, runHref } from "../src/lib/route";
import { flattenConfig, matchesFilter, sortRows } from "../src/lib/table";
import { groupTags } from "../src/lib/tags";
import { ALL_VIEWS } from "../src/views";

describe("routes", () => {
  it("round-trips a run route with params", () => {
    const href = runHref("team~exp-1", "scalars", { runs: "b,c", smooth: 0.5, empty: "" });
    const r = parseHash(href);
    expect(r).toMatchObject({ name: "run", runId: "team~exp-1", view: "scalars" });
    expect(routeRunIds(r)).toEqual(["team~exp-1", "b", "c"]);
    expect(formatRoute(r)).toBe(href);
  });
  it("falls back to the runs table", () => {
    expect(parseHash("").name).toBe("runs");
    expect(parseHash("#/nonsense").name).toBe("runs");
  });
  it("does not repeat the route's run among compared runs", () => {
    expect(routeRunIds(parseHash("#/run/a/overview?runs=a,b,b"))).toEqual(["a", "b"]);
  });
});

describe("runs table helpers", () => {
  it("flattens nested config", () => {
    expect(flattenConfig({ lr: 0.1, optim: { name: "adam", betas: [0.9, 0.99] } })).toEqual({ lr: 0.1, "optim.name": "adam", "optim.betas": [0.9, 0.99] });
  });
  it("sorts numbers numerically, missing last, stably", () => {
    const rows = [{ v: 10 }, { v: null }, { v: 9 }, { v: 100 }];
    expect(sortRows(rows, (r) => r.v, false).map((r) => r.v)).toEqual([9, 10, 100, null]);
    expect(sortRows(rows, (r) => r.v, true).map((r) => r.v)).toEqual([100, 10, 9, null]);
  });
  it("filters on every word", () => {
    expect(matchesFilter(["cnn-baseline", "finished"], "cnn fin")).toBe(true);
    expect(matchesFilter(["cnn-baseline", "finished"], "cnn crashed")).toBe(false);
  });
});

describe("tags and registry", () => {
  it("groups tags by prefix", () => {
    expect([...groupTags(["val/loss", "train/loss", "lr", "train/acc"]).entries()]).toEqual([
      ["train", ["train/acc", "train/loss"]],
      ["val", ["val/loss"]],
      ["(ungrouped)", ["lr"]],
    ]);
  });
  it("registers views with unique route-safe ids", () => {
    const ids = ALL_VIEWS.map((v) => v.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-z0-9-]*$/);
    expect(ids).toEqual(expect.arrayContaining(["overview", "scalars", "health", "distributions"]));
  });
});
