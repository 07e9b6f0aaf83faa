import { attentionView } from "./attention";
import { attributionsView } from "./attributions";
import { boundaryView } from "./boundary";
import { distributionsView } from "./distributions";
import { embeddingsView } from "./embeddings";
import { graphView } from "./graph";
import { healthView } from "./health";
import { importanceView } from "./importance";
import { maximizationView } from "./maximization";
import { overviewView } from "./overview";
import { predictionsView } from "./predictions";
import { residualView } from "./residual";
import { scalarsView } from "./scalars";
import type { ViewModule } from "./types";
import { weightsView } from "./weights";

/**
 * Every run-scoped view, in navigation order. Explicit list (no registration side effects); a test
 * checks ids are unique route segments. Add a view: one module in this folder exporting a
 * ViewModule, one line here (see web/README.md).
 */
export const ALL_VIEWS: readonly ViewModule[] = [
  overviewView, scalarsView, healthView, distributionsView, graphView, attentionView, residualView,
  attributionsView, importanceView, embeddingsView, predictionsView, boundaryView, maximizationView, weightsView,
];

export type { ParamPatch, Requirement, ViewContext, ViewHandle, ViewModule } from "./types";
