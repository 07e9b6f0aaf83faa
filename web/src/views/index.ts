import { distributionsView } from "./distributions";
import { healthView } from "./health";
import { overviewView } from "./overview";
import { scalarsView } from "./scalars";
import type { ViewModule } from "./types";

/**
 * Every run-scoped view, in navigation order. Explicit list (no registration side effects); a test
 * checks ids are unique route segments. Add a view: one module in this folder exporting a
 * ViewModule, one line here (see web/README.md).
 */
export const ALL_VIEWS: readonly ViewModule[] = [overviewView, scalarsView, healthView, distributionsView];

export type { ParamPatch, Requirement, ViewContext, ViewHandle, ViewModule } from "./types";
