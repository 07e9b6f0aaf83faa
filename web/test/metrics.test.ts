import { describe, expect, it } from "vitest";
import { betterOf, lossTags, metricOrder, reduce, summarize } from "../src/lib/metrics";

const series = (tag: string, values: (number | null)[]) => ({ tag, steps: values.map((_, i) => i * 10), values, walls: [], total_points: 99, downsampled: true });

describe("summarize", () => {
  it("final, min, max and best with their steps; non-finite values are skipped", () => {
    const s = summarize(series("val/loss", [2, 0.5, null, 0.9]));
    expect(s).toMatchObject({ last: 0.9, lastStep: 30, min: 0.5, minStep: 10, max: 2, maxStep: 0, best: 0.5, bestStep: 10, points: 99 });
    const a = summarize(series("val/acc", [0.1, 0.9, 0.8]));
    expect(a.best).toBe(0.9);
    expect(reduce(a, "last")).toBe(0.8);
    expect(reduce(undefined, "best")).toBeNull();
    expect(summarize(series("x", [])).last).toBeNull();
  });
  it("knows which way is better and which tags are losses", () => {
    expect(betterOf("train/loss")).toBe("min");
    expect(betterOf("eval/perplexity")).toBe("min");
    expect(betterOf("val/acc")).toBe("max");
    expect(lossTags(["train/loss", "val_loss", "x"])).toEqual({ train: "train/loss", val: "val_loss" });
    expect(metricOrder(["train/acc", "lr", "val/acc", "train/loss", "val/loss"])).toEqual(["val/loss", "val/acc", "train/loss", "train/acc", "lr"]);
  });
});
