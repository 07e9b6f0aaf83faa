import type { Api, RunDetail, RunSummary } from "./api";
import { append, clear, el, link, select } from "./dom";
import { routeRunIds, runHref, type Route } from "./lib/route";
import type { Requirement, ViewModule } from "./views";

/** Does the run detail show the data a view needs? (Unknown requirements are left to the view.) */
export function missingRequirement(run: RunDetail, reqs: readonly Requirement[]): Requirement | null {
  for (const r of reqs) {
    if (r.what === "scalars" && run.tags.length === 0) return r;
    if (r.what === "layers" && run.layers === 0) return r;
    if (r.what === "stats" && !r.kinds.some((k) => run.kinds.includes(k))) return r;
  }
  return null;
}

export interface HeaderState {
  runs: RunSummary[];
  route: Route;
  views: readonly ViewModule[];
  mode: string;
  navigate(hash: string): void;
}

function runPicker(s: HeaderState, route: Extract<Route, { name: "run" }>): HTMLElement {
  const options = s.runs.map((r) => ({ value: r.id, label: r.name }));
  if (!options.some((o) => o.value === route.runId)) options.unshift({ value: route.runId, label: route.runId });
  return select("Run", options, route.runId, (id) => s.navigate(runHref(id, route.view)), "run-picker");
}

function compareChips(s: HeaderState, route: Extract<Route, { name: "run" }>): HTMLElement {
  const ids = routeRunIds(route);
  const names = new Map(s.runs.map((r) => [r.id, r.name]));
  const box = el("div", { class: "compare", attrs: { "data-testid": "compare-chips" } });
  const withRuns = (next: string[]): string => runHref(route.runId, route.view, { runs: next.join(",") });
  for (const id of ids.slice(1)) {
    append(box, el("span", "chip", names.get(id) ?? id, " ", link(withRuns(ids.slice(1).filter((x) => x !== id)), "×")));
  }
  const others = s.runs.filter((r) => !ids.includes(r.id));
  if (others.length) {
    const add = el("select", {
      attrs: { "aria-label": "compare with", "data-testid": "compare-add" },
      on: { change: () => add.value && s.navigate(withRuns([...ids.slice(1), add.value])) },
    });
    append(add, el("option", { attrs: { value: "" } }, "+ compare with…"), ...others.map((r) => el("option", { attrs: { value: r.id } }, r.name)));
    box.appendChild(add);
  }
  return box;
}

/** Header: brand, run picker, the views of the current run, compared runs, live state. */
export function renderHeader(header: HTMLElement, s: HeaderState): void {
  clear(header);
  const brand = link("#/runs", el("strong", null, "deepscope"));
  brand.className = "brand";
  const nav = el("nav", { attrs: { "data-testid": "nav" } });
  append(nav, el("a", { class: s.route.name === "runs" ? "active" : "", attrs: { href: "#/runs" } }, "Runs"));
  const route = s.route;
  const mode = el("span", { class: `mode mode-${s.mode}`, attrs: { "data-testid": "mode" } }, s.mode);
  if (route.name !== "run") {
    append(header, brand, nav, el("span", "spacer"), mode);
    return;
  }
  const runs = route.params.get("runs");
  for (const v of s.views) {
    append(nav, el("a", { class: v.id === route.view ? "active" : "", attrs: { href: runHref(route.runId, v.id, { runs }), "data-view": v.id } }, v.title));
  }
  append(header, brand, runPicker(s, route), nav, el("span", "spacer"), compareChips(s, route), mode);
}
