import { isNotRecorded, type Api, type RunDetail, type RunSummary, type SeverityCounts, type Versions } from "./api";
import { append, clear, el, errorBox, loading, notRecorded } from "./dom";
import { formatRoute, parseHash, routeRunIds, runHref, type Route } from "./lib/route";
import { missingRequirement, renderHeader } from "./shell";
import { renderRuns } from "./views/runs";
import type { ParamPatch, ViewContext, ViewHandle, ViewModule } from "./views";

/** Shortest interval between two full renders of a view caused by live data. */
const RERENDER_MS = 5000;

interface Mounted {
  route: Route;
  shownAt: number;
  runIds: string[];
  run: RunDetail | null;
  handle: ViewHandle | null;
  dispose(): void;
}

/** The app shell: routing, header, live updates; views render into `main`. */
export class App {
  private runs: RunSummary[] = [];
  private mounted: Mounted | null = null;
  private versions: Versions | null = null;
  private live = false;
  private refreshing: Promise<void> | null = null;
  private dirty = false;
  private rerenderTimer = 0;
  private readonly header: HTMLElement;
  private readonly main: HTMLElement;

  constructor(
    root: HTMLElement,
    private readonly api: Api,
    private readonly views: readonly ViewModule[],
  ) {
    this.header = el("header", { class: "app-header", attrs: { "data-testid": "header" } });
    this.main = el("main", { attrs: { "data-testid": "view" } });
    clear(root);
    append(root, this.header, this.main);
  }

  async start(): Promise<void> {
    window.addEventListener("hashchange", () => void this.show());
    try {
      this.runs = await this.api.runs();
    } catch (err) {
      append(this.main, errorBox(`Cannot list runs: ${(err as Error).message}`));
      return;
    }
    if (!window.location.hash || window.location.hash === "#" || window.location.hash === "#/") {
      // A report with one run opens on its overview; otherwise the runs table.
      const only = this.api.mode === "report" && this.runs.length === 1 ? this.runs[0] : undefined;
      history.replaceState(null, "", only ? runHref(only.id, "overview") : "#/runs");
    }
    await this.show();
    this.api.subscribe({
      versions: (v) => this.onVersions(v),
      findings: (counts) => this.onFindings(counts),
      state: (live) => {
        this.live = live;
        const mode = this.header.querySelector<HTMLElement>("[data-testid=mode]");
        if (mode) {
          mode.textContent = this.modeLabel();
          mode.className = `mode mode-${this.modeLabel()}`;
        }
      },
    });
  }

  private modeLabel(): string {
    return this.api.mode === "report" ? "report" : this.live ? "live" : "offline";
  }

  private navigate = (hash: string): void => {
    window.location.hash = hash;
  };

  /** Render the route in the address bar (on start and on every hash change). */
  private async show(): Promise<void> {
    this.mounted?.dispose();
    this.mounted = null;
    const route = parseHash(window.location.hash);
    renderHeader(this.header, { runs: this.runs, route, views: this.views, mode: this.modeLabel(), navigate: this.navigate });
    clear(this.main);
    const controller = new AbortController();
    const disposers: (() => void)[] = [];
    const mounted: Mounted = {
      route,
      shownAt: Date.now(),
      runIds: routeRunIds(route),
      run: null,
      handle: null,
      dispose: () => {
        controller.abort();
        for (const fn of disposers.splice(0).reverse()) fn();
      },
    };
    this.mounted = mounted;
    const setParams = (patch: ParamPatch): void => {
      for (const [k, v] of Object.entries(patch)) {
        if (v === null || v === undefined || v === "") route.params.delete(k);
        else route.params.set(k, String(v));
      }
      history.replaceState(null, "", formatRoute(route));
    };
    if (route.name === "runs") {
      document.title = "deepscope · runs";
      const update = renderRuns(this.main, { api: this.api, runs: this.runs, params: route.params, setParams, navigate: this.navigate, onDispose: (fn) => disposers.push(fn) });
      mounted.handle = { refresh: () => update(this.runs) };
      return;
    }
    const view = this.views.find((v) => v.id === route.view);
    const box = el("div", { class: "view", attrs: { "data-view": route.view } });
    this.main.appendChild(box);
    if (!view) {
      box.appendChild(errorBox(`There is no view called ${route.view}.`));
      return;
    }
    box.appendChild(loading());
    let run: RunDetail;
    try {
      run = await this.api.run(route.runId);
    } catch (err) {
      if (controller.signal.aborted) return;
      clear(box);
      box.appendChild(errorBox(isNotRecorded(err) ? `No run ${route.runId} here.` : (err as Error).message));
      return;
    }
    if (controller.signal.aborted) return;
    mounted.run = run;
    document.title = `deepscope · ${run.name} · ${view.title}`;
    clear(box);
    const missing = missingRequirement(run, view.requires);
    if (missing) {
      box.appendChild(notRecorded(view.title, view.hint));
      mounted.shownAt = 0; // nothing to lose: show the data as soon as it arrives
      return;
    }
    const ctx: ViewContext = {
      api: this.api,
      runId: route.runId,
      runIds: mounted.runIds,
      run,
      runs: this.runs,
      params: route.params,
      setParams,
      href: (viewId, params = {}) => runHref(route.runId, viewId, { runs: route.params.get("runs"), ...params }),
      hasView: (id) => this.views.some((v) => v.id === id),
      onDispose: (fn) => disposers.push(fn),
      signal: controller.signal,
    };
    try {
      mounted.handle = (await view.render(box, ctx)) ?? null;
    } catch (err) {
      if (controller.signal.aborted) return;
      clear(box);
      box.appendChild(isNotRecorded(err) ? notRecorded(view.title, view.hint) : errorBox((err as Error).message));
    }
  }

  /** Background diagnoses finished: update the counts the runs table shows. */
  private onFindings(counts: Record<string, SeverityCounts>): void {
    let changed = false;
    this.runs = this.runs.map((r) => {
      const c = counts[r.id];
      if (!c || JSON.stringify(c) === JSON.stringify(r.findings)) return r;
      changed = true;
      return { ...r, findings: c };
    });
    const m = this.mounted;
    if (changed && m?.route.name === "runs") void m.handle?.refresh?.();
  }

  /** Live updates: refresh what is on screen when one of its runs got new data. */
  private onVersions(v: Versions): void {
    const before = this.versions;
    this.versions = { ...(before ?? {}), ...v };
    if (before === null) return; // first event: the baseline of what was just loaded
    const changed = Object.keys(v).filter((id) => before[id] !== v[id]);
    if (!changed.length) return;
    this.dirty = true;
    if (!this.refreshing) this.refreshing = this.refreshLoop(changed).finally(() => (this.refreshing = null));
  }

  private async refreshLoop(changed: string[]): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await this.refresh(changed);
      } catch {
        /* a failed refresh keeps what is shown; the next version change retries */
      }
    }
  }

  private async refresh(changed: string[]): Promise<void> {
    const m = this.mounted;
    const known = new Set(this.runs.map((r) => r.id));
    if (changed.some((id) => !known.has(id)) || m?.route.name === "runs") {
      this.runs = await this.api.runs().catch(() => this.runs);
    }
    if (!m || m !== this.mounted) return;
    if (m.route.name === "runs") return void (await m.handle?.refresh?.());
    if (!m.runIds.some((id) => changed.includes(id))) return;
    if (m.run) {
      const fresh = await this.api.run(m.run.id).catch(() => null);
      if (fresh && m === this.mounted) Object.assign(m.run, fresh);
    }
    if (m !== this.mounted) return;
    if (m.handle?.refresh) await m.handle.refresh();
    else this.rerenderSoon(m);
  }

  /**
   * Views without an in-place refresh are rendered again, at most every RERENDER_MS: a live run
   * changes twice a second and a full render resets what the user was looking at.
   */
  private rerenderSoon(m: Mounted): void {
    if (this.rerenderTimer) return;
    const wait = Math.max(0, m.shownAt + RERENDER_MS - Date.now());
    this.rerenderTimer = window.setTimeout(() => {
      this.rerenderTimer = 0;
      if (m === this.mounted) void this.show();
    }, wait);
  }
}
