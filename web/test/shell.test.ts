import { describe, expect, it } from "vitest";
import type { RunDetail } from "../src/api/types";
import { missingRequirement } from "../src/shell";
import { findingTarget } from "../src/views/links";

const run = (over: Partial<RunDetail>): RunDetail => ({ tags: [], layers: 0, kinds: [], ...over }) as RunDetail;

describe("missingRequirement", () => {
  it("passes when the run detail shows the data", () => {
    expect(missingRequirement(run({ tags: ["loss"] }), [{ what: "scalars" }])).toBeNull();
    expect(missingRequirement(run({ kinds: ["activation"] }), [{ what: "stats", kinds: ["grad", "activation"] }])).toBeNull();
    expect(missingRequirement(run({}), [{ what: "graph" }, { what: "histograms" }])).toBeNull();
  });
  it("names the first requirement the run does not meet", () => {
    expect(missingRequirement(run({}), [{ what: "scalars" }])).toEqual({ what: "scalars" });
    expect(missingRequirement(run({ tags: ["x"], kinds: ["weight"] }), [{ what: "scalars" }, { what: "stats", kinds: ["grad"] }])).toEqual({ what: "stats", kinds: ["grad"] });
    expect(missingRequirement(run({ layers: 0 }), [{ what: "layers" }])).toEqual({ what: "layers" });
  });
});

describe("findingTarget", () => {
  const f = { severity: "warning", message: "", suggestion: "", evidence: {} } as const;
  it("sends gradient problems to the gradient-norm heatmap at the finding's step and layer", () => {
    expect(findingTarget({ ...f, code: "vanishing_gradients", layer: "fc1", step: 40 })).toMatchObject({ view: "health", params: { stat: "grad_norm", step: 40, layer: "fc1" } });
  });
  it("sends input problems to the root input distribution and loss problems to scalars", () => {
    expect(findingTarget({ ...f, code: "unnormalized_inputs", layer: null, step: 0 })).toMatchObject({ view: "distributions", params: { layer: "<root>", kind: "input" } });
    expect(findingTarget({ ...f, code: "overfitting", layer: null, step: 10 }).view).toBe("scalars");
    expect(findingTarget({ ...f, code: "some_future_code", layer: null, step: null }).view).toBe("scalars");
  });
});
