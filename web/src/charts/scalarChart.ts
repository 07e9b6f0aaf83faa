import type { Api, ScalarSeries } from "../api";
import { mergeDetail, type XY } from "../lib/downsample";
import { formatDuration, formatNumber } from "../lib/format";
import { emaSmooth, forLogAxis } from "../lib/smoothing";
import { BASE, createChart, PALETTE, type Chart } from "./echarts";

/** Points per series and request; the server min/max-downsamples to this. */
export const MAX_POINTS = 2000;

export interface ScalarRun {
  id: string;
  name: string;
  color: string;
}

/** Horizontal axis, as in TensorBoard: training step, time since the run's first point, clock time. */
export type XAxisMode = "step" | "relative" | "wall";

export interface ScalarDisplay {
  smoothing: number;
  log: boolean;
  x: XAxisMode;
}

interface Loaded {
  run: ScalarRun;
  overview: ScalarSeries;
  shown: XY;
}

/**
 * One tag, several runs overlaid. Loads a min/max-downsampled overview per run; when the user
 * zooms into a downsampled series it fetches the visible window at full resolution (still capped
 * at MAX_POINTS) and merges it in, so a 1,000,000-point series stays a few thousand points.
 */
export class ScalarChart {
  readonly chart: Chart;
  private loaded: Loaded[] = [];
  private window: [number, number] | null = null;
  private zoomTimer = 0;
  private generation = 0;
  private display: ScalarDisplay;

  constructor(
    private readonly host: HTMLElement,
    private readonly api: Api,
    private readonly tag: string,
    private readonly runs: ScalarRun[],
    display: ScalarDisplay,
    onDispose: (fn: () => void) => void,
  ) {
    this.display = { ...display }; // a copy: setDisplay compares old and new
    this.chart = createChart(host, onDispose);
    this.chart.on("datazoom", () => {
      window.clearTimeout(this.zoomTimer);
      this.zoomTimer = window.setTimeout(() => void this.onZoom(), 200);
    });
    onDispose(() => window.clearTimeout(this.zoomTimer));
  }

  /** (Re)load every run's series; keeps the zoom window. */
  async load(): Promise<void> {
    const gen = ++this.generation;
    const results = await Promise.all(
      this.runs.map(async (run) => {
        try {
          const overview = await this.api.scalars(run.id, this.tag, { maxPoints: MAX_POINTS });
          return { run, overview, shown: full(overview) };
        } catch {
          return null; // this run did not log the tag
        }
      }),
    );
    if (gen !== this.generation) return;
    this.loaded = results.filter((r): r is Loaded => r !== null);
    if (this.window) await this.fetchDetail(this.window, gen);
    this.draw(true);
  }

  setDisplay(display: ScalarDisplay): void {
    const axisChanged = display.x !== this.display.x;
    this.display = { ...display };
    if (axisChanged) {
      // Zoom windows are step ranges: a new time axis starts unzoomed from the overview.
      this.window = null;
      for (const l of this.loaded) l.shown = full(l.overview);
      this.chart.dispatchAction({ type: "dataZoom", start: 0, end: 100 });
    }
    this.draw(axisChanged);
  }

  private extent(): [number, number] | null {
    let lo = Infinity;
    let hi = -Infinity;
    for (const l of this.loaded) {
      const s = l.overview.steps;
      if (s.length) {
        lo = Math.min(lo, s[0] as number);
        hi = Math.max(hi, s[s.length - 1] as number);
      }
    }
    return Number.isFinite(lo) ? [lo, hi] : null;
  }

  /** What is drawn, as data attributes (read by tests and handy when debugging). */
  private describe(): void {
    let last = -Infinity;
    let points = 0;
    let max = -Infinity;
    for (const l of this.loaded) {
      const s = l.shown.steps;
      if (s.length) last = Math.max(last, s[s.length - 1] as number);
      points = Math.max(points, s.length);
      for (const v of l.shown.values) if (v !== null && v > max) max = v;
    }
    const d = this.host.dataset;
    d.lastStep = Number.isFinite(last) ? String(last) : "";
    d.points = String(points);
    d.max = Number.isFinite(max) ? String(max) : "";
    if (this.window) d.window = this.window.join("-");
    else delete d.window;
  }

  private async onZoom(): Promise<void> {
    // Detail fetches are by step range; on time axes the min/max overview is what is shown.
    if (this.display.x !== "step") return;
    const ext = this.extent();
    const dz = (this.chart.getOption() as { dataZoom?: { start?: number; end?: number }[] }).dataZoom?.[0];
    if (!ext || !dz) return;
    const start = dz.start ?? 0;
    const end = dz.end ?? 100;
    const span = ext[1] - ext[0];
    this.window = start <= 0 && end >= 100 ? null : [Math.floor(ext[0] + (span * start) / 100), Math.ceil(ext[0] + (span * end) / 100)];
    const gen = ++this.generation;
    if (this.window) await this.fetchDetail(this.window, gen);
    else for (const l of this.loaded) l.shown = full(l.overview);
    if (gen === this.generation) this.draw(false);
  }

  private async fetchDetail(win: [number, number], gen: number): Promise<void> {
    await Promise.all(
      this.loaded.map(async (l) => {
        if (!l.overview.downsampled) return;
        const detail = await this.api.scalars(l.run.id, this.tag, { maxPoints: MAX_POINTS, start: win[0], end: win[1] });
        if (gen === this.generation) l.shown = mergeDetail(l.overview, detail);
      }),
    );
  }

  private draw(fullRedraw: boolean): void {
    const { smoothing, log } = this.display;
    const series: object[] = [];
    for (const l of this.loaded) {
      const raw = log ? forLogAxis(l.shown.values) : l.shown.values;
      const smooth = emaSmooth(raw, smoothing);
      const xs = xValues(l.shown, this.display.x);
      const pts = (vals: (number | null)[]): [number, number | null][] => xs.map((x, i) => [x, vals[i] ?? null]);
      if (smoothing > 0) {
        series.push({ name: l.run.name, id: `${l.run.id}:raw`, type: "line", data: pts(raw), showSymbol: false, lineStyle: { width: 1, opacity: 0.25 }, itemStyle: { color: l.run.color }, tooltip: { show: false }, silent: true, connectNulls: false, z: 1 });
      }
      series.push({ name: l.run.name, id: `${l.run.id}:main`, type: "line", data: pts(smooth), showSymbol: false, lineStyle: { width: 1.5 }, itemStyle: { color: l.run.color }, connectNulls: false, z: 2 });
    }
    const option = {
      ...BASE,
      color: PALETTE,
      grid: { left: 56, right: 16, top: 28, bottom: 56 },
      legend: { top: 0, type: "scroll", data: this.loaded.map((l) => l.run.name) },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v: unknown) => (typeof v === "number" ? formatNumber(v, 6) : "–") },
      xAxis: xAxis(this.display.x),
      yAxis: { type: log ? "log" : "value", scale: true, axisLabel: { formatter: (v: number) => formatNumber(v, 3) } },
      dataZoom: fullRedraw && !this.window ? [{ type: "inside", filterMode: "none" }, { type: "slider", height: 18, bottom: 8, filterMode: "none" }] : undefined,
      series,
    };
    this.describe();
    const title = { show: this.loaded.length === 0, text: "no data", left: "center", top: "middle", textStyle: { color: "#888", fontSize: 12 } };
    this.chart.setOption({ ...option, title }, { replaceMerge: ["series", "legend"] });
  }
}

export function runColors(ids: string[], names: Map<string, string>): ScalarRun[] {
  const seen = new Map<string, number>();
  for (const id of ids) seen.set(names.get(id) ?? id, (seen.get(names.get(id) ?? id) ?? 0) + 1);
  return ids.map((id, i) => {
    const name = names.get(id) ?? id;
    // Legend entries are keyed by name: runs sharing a name get their id appended.
    return { id, name: (seen.get(name) ?? 0) > 1 ? `${name} (${id})` : name, color: PALETTE[i % PALETTE.length] as string };
  });
}

function full(s: ScalarSeries): XY {
  return { steps: s.steps, values: s.values, walls: s.walls };
}

/** x of every point: the step, seconds since the first point, or epoch milliseconds. */
function xValues(xy: XY, mode: XAxisMode): number[] {
  if (mode === "step" || !xy.walls || xy.walls.length !== xy.steps.length) return xy.steps;
  const walls = xy.walls;
  if (mode === "wall") return walls.map((w) => w * 1000);
  const t0 = walls[0] ?? 0;
  return walls.map((w) => w - t0);
}

function xAxis(mode: XAxisMode): object {
  const common = { nameLocation: "end", min: "dataMin", max: "dataMax", axisLabel: { hideOverlap: true } };
  if (mode === "wall") return { ...common, type: "time", name: "time" };
  if (mode === "relative") return { ...common, type: "value", name: "elapsed", axisLabel: { hideOverlap: true, formatter: (v: number) => formatDuration(v) } };
  return { ...common, type: "value", name: "step" };
}
