import { describe, expect, it } from "vitest";
import { parallelAxes } from "../src/charts/parallel";

describe("parallelAxes", () => {
  it("numbers get value axes (log when they span decades), the rest categories", () => {
    const runs = [
      { name: "a", config: { lr: 1e-4, batch: 32, opt: "adam", warm: true }, metric: 0.5 },
      { name: "b", config: { lr: 0.1, batch: 64, opt: "sgd" }, metric: 0.7 },
    ];
    const axes = parallelAxes(runs, ["lr", "batch", "opt", "warm"]);
    expect(axes.map((a) => a.type)).toEqual(["log", "value", "category", "category"]);
    expect(axes[2]?.data).toEqual(["adam", "sgd"]);
    expect(axes[3]?.data).toEqual(["true", "–"]);
  });
});
