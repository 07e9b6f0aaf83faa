import { describe, expect, it } from "vitest";
import { viridis } from "../src/lib/colors";

describe("viridis", () => {
  it("hits the end stops and clamps outside [0, 1]", () => {
    expect(viridis(0)).toEqual([68, 1, 84]);
    expect(viridis(1)).toEqual([253, 231, 37]);
    expect(viridis(-3)).toEqual(viridis(0));
    expect(viridis(7)).toEqual(viridis(1));
    expect(viridis(Number.NaN)).toEqual(viridis(0));
  });
  it("gets lighter monotonically (perceptual ramp)", () => {
    const lum = (c: [number, number, number]): number => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    let last = -1;
    for (let t = 0; t <= 1; t += 0.05) {
      const l = lum(viridis(t));
      expect(l).toBeGreaterThan(last);
      last = l;
    }
  });
});
