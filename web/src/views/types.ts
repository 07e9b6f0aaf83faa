import type { Api, RunDetail, RunSummary } from "../api";

/** What a view needs; checked by the shell before `render` where the run detail can tell. */
export type Requirement =
  | { what: "scalars" }
  | { what: "layers" }
  /** Any of these statistic kinds (weight, grad, update, activation, activation_grad, input). */
  | { what: "stats"; kinds: readonly string[] }
  /** Checked by the view itself (a 404 / NotRecordedError shows the placeholder). */
  | { what: "histograms" }
  | { what: "graph" }
  /** Checked by the view itself: the transformer capture (attention heads, blocks, logits). */
  | { what: "transformer" }
  | { what: "artifacts"; kinds: readonly string[] };

export type ParamPatch = Record<string, string | number | null | undefined>;

export interface ViewContext {
  api: Api;
  /** The run in the route. */
  runId: string;
  /** The route's run first, then the runs added for comparison. */
  runIds: string[];
  /** Detail of `runId` (tags, layer count, statistic kinds, finding counts). */
  run: RunDetail;
  /** Every run (names and colours of compared runs). */
  runs: RunSummary[];
  /** View-local state from the hash query (`#/run/x/scalars?smooth=0.6`). */
  params: URLSearchParams;
  /** Update the hash query without re-rendering (keeps state shareable and reload-proof). */
  setParams(patch: ParamPatch): void;
  /** A hash link to another view of the same run(s). */
  href(viewId: string, params?: ParamPatch): string;
  /** True when a view with this id is registered (link only to views that exist). */
  hasView(viewId: string): boolean;
  /** Register cleanup (charts, workers, listeners) run when the view is left or re-rendered. */
  onDispose(fn: () => void): void;
  /** Aborted when the view is left: stop async work that would touch a detached container. */
  signal: AbortSignal;
}

/** Returned by `render` when the view can update in place on new data (live runs). */
export interface ViewHandle {
  refresh?(): void | Promise<void>;
}

export interface ViewModule {
  /** Route segment: #/run/<runId>/<id>. */
  readonly id: string;
  /** Navigation label. */
  readonly title: string;
  readonly requires: readonly Requirement[];
  /** How to record what this view shows, e.g. "run.watch(model)". */
  readonly hint: string;
  render(container: HTMLElement, ctx: ViewContext): void | ViewHandle | Promise<void | ViewHandle>;
}
