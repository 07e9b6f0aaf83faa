import type { Finding } from "../api";
import type { ParamPatch } from "./types";

/** Where each finding code is seen: the view and its settings that show the evidence. */
export function findingTarget(f: Finding): { view: string; params: ParamPatch; label: string } {
  const step = f.step ?? undefined;
  const layer = f.layer ?? undefined;
  switch (f.code) {
    case "exploding_gradients":
    case "vanishing_gradients":
    case "no_gradient":
      return { view: "health", params: { stat: "grad_norm", step, layer }, label: "Gradient norms" };
    case "dead_units":
      return { view: "health", params: { stat: "dead_frac", step, layer }, label: "Dead units" };
    case "saturated_activations":
      return { view: "health", params: { stat: "saturated_frac", step, layer }, label: "Saturation" };
    case "frozen_parameters":
      return { view: "health", params: { stat: "update_ratio", step, layer }, label: "Update/weight ratio" };
    case "unnormalized_inputs":
      return { view: "distributions", params: { layer: layer ?? "<root>", kind: "input" }, label: "Input distribution" };
    case "nonfinite":
      return layer
        ? { view: "distributions", params: { layer, kind: "activation" }, label: "Activations" }
        : { view: "scalars", params: {}, label: "Scalars" };
    default:
      return { view: "scalars", params: {}, label: "Scalars" };
  }
}
