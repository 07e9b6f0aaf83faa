// Metric columns of the runs table (final / best / min / max of any tag, chosen by the user and
// kept in the hash as `m`) and the parallel-coordinates chart of config values against one of
// them. Values come from each run's min/max-downsampled series (exact last, min and max).
import type { Api, RunSummary } from "../api";
import { createChart, type Chart } from "../charts/echarts";
import { drawParallel } from "../charts/parallel";
import { clear, el, select } from "../dom";
import { metricOrder, REDUCTIONS, reduce, summarize, type Reduction, type TagSummary } from "../lib/metrics";
import { flattenConfig } from "../lib/table";
import type { ParamPatch } from "./types";

export interface MetricColumn {
  tag: string;
  how: Reduction;
}

function parseColumns(raw: string | null): MetricColumn[] | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as unknown;
    if (!Array.isArray(v)) return [];
    return v.filter((x): x is [string, Reduction] => Array.isArray(x) && typeof x[0] === "string" && REDUCTIONS.includes(x[1])).map(([tag, how]) => ({ tag, how }));
  } catch {
    return [];
  }
}

export class MetricColumns {
  columns: MetricColumn[];
  readonly controls: HTMLElement;
  readonly parallelCard: HTMLElement;
  private runs: RunSummary[] = [];
  private visible: RunSummary[] = [];
  private tags = new Map<string, string[]>();
  private values = new Map<string, TagSummary | null>();
  private pending = new Set<string>();
  private chart: Chart | null = null;
  private readonly parallelHost = el("div", { class: "tall", attrs: { "data-testid": "parallel-coordinates" } });
  private readonly parallelMsg = el("p", "muted");
  private readonly tagSelect = el("select", { attrs: { "data-testid": "metric-tag", "aria-label": "metric tag" } });
  private readonly howSelect = el("select", { attrs: { "data-testid": "metric-how", "aria-label": "metric reduction" } });
  private parallelMetric = 0;
  private userChose: boolean;

  constructor(private readonly api: Api, params: URLSearchParams, private readonly setParams: (p: ParamPatch) => void, private readonly onDispose: (fn: () => void) => void, private readonly onChange: () => void) {
    const chosen = parseColumns(params.get("m"));
    this.userChose = chosen !== null;
    this.columns = chosen ?? [];
    for (const h of REDUCTIONS) this.howSelect.appendChild(el("option", { attrs: { value: h } }, h === "last" ? "final" : h));
    this.howSelect.value = "best";
    const add = el("button", { attrs: { type: "button", "data-testid": "metric-add" }, on: { click: () => this.add(this.tagSelect.value, this.howSelect.value as Reduction) } }, "Add column");
    this.controls = el("span", "control", el("span", null, "Metric"), this.tagSelect, this.howSelect, add);
    this.parallelCard = el("section", { class: "card parallel" }, el("h3", null, "Config values against a metric (one line per run shown above)"), this.parallelMsg, this.parallelHost);
  }

  summary(runId: string, tag: string): TagSummary | null | undefined {
    const key = `${runId}\n${tag}`;
    const known = this.tags.get(runId);
    if (known && !known.includes(tag)) return null; // not logged by this run: nothing to ask
    if (!this.values.has(key)) void this.fetch(runId, tag);
    return this.values.get(key);
  }

  removeButton(columnId: string): HTMLButtonElement {
    return el("button", { class: "remove", attrs: { type: "button", "aria-label": "remove column", "data-testid": "metric-remove" }, on: { click: (ev) => {
      ev.stopPropagation();
      this.columns = this.columns.filter((c) => `metric:${c.how}:${c.tag}` !== columnId);
      this.changed();
    } } }, "×");
  }

  setRuns(runs: RunSummary[]): void {
    this.runs = runs;
    void this.loadTags();
  }

  setVisible(runs: RunSummary[]): void {
    this.visible = runs;
    this.drawParallel();
  }

  private add(tag: string, how: Reduction): void {
    if (!tag || this.columns.some((c) => c.tag === tag && c.how === how)) return;
    this.columns = [...this.columns, { tag, how }];
    this.changed();
  }

  private changed(): void {
    this.userChose = true;
    this.setParams({ m: JSON.stringify(this.columns.map((c) => [c.tag, c.how])) });
    this.parallelMetric = Math.min(this.parallelMetric, Math.max(0, this.columns.length - 1));
    this.onChange();
  }

  private async loadTags(): Promise<void> {
    const todo = this.runs.filter((r) => r.status !== "unreadable" && !this.tags.has(r.id));
    if (!todo.length) return;
    await Promise.all(todo.map(async (r) => this.tags.set(r.id, await this.api.scalarTags(r.id).catch(() => []))));
    const all = metricOrder([...new Set([...this.tags.values()].flat())]);
    const current = this.tagSelect.value;
    clear(this.tagSelect);
    for (const t of all) this.tagSelect.appendChild(el("option", { attrs: { value: t } }, t));
    if (all.includes(current)) this.tagSelect.value = current;
    if (!this.userChose && this.columns.length === 0 && all.length) {
      // A first look: the best value of the two leading metrics (validation loss first).
      this.columns = all.slice(0, 2).map((tag) => ({ tag, how: "best" as Reduction }));
      this.onChange();
    }
  }

  private async fetch(runId: string, tag: string): Promise<void> {
    const key = `${runId}\n${tag}`;
    if (this.pending.has(key)) return;
    this.pending.add(key);
    const s = await this.api.scalars(runId, tag, { maxPoints: 200 }).catch(() => null);
    this.values.set(key, s ? summarize(s) : null);
    this.pending.delete(key);
    if (this.pending.size === 0) this.onChange();
  }

  private drawParallel(): void {
    const runs = this.visible;
    const flat = new Map(runs.map((r) => [r.id, flattenConfig(r.config ?? {})]));
    const keys = [...new Set(runs.flatMap((r) => Object.keys(flat.get(r.id) ?? {})))].sort()
      .filter((k) => new Set(runs.map((r) => JSON.stringify(flat.get(r.id)?.[k] ?? null))).size > 1)
      // free-text values (descriptions, paths) make no useful axis
      .filter((k) => runs.every((r) => { const v = flat.get(r.id)?.[k]; return typeof v !== "string" || v.length <= 32; }))
      .slice(0, 12);
    const metric = this.columns[this.parallelMetric];
    const why = runs.length < 2 ? "Needs at least two runs." : !keys.length ? "The runs shown have the same config." : !metric ? "Add a metric column to compare against." : "";
    this.parallelHost.hidden = why !== "";
    this.parallelMsg.textContent = why;
    this.parallelCard.querySelector(".metric-pick")?.remove();
    if (why || !metric) return;
    const options = this.columns.map((c, i) => ({ value: String(i), label: `${c.tag} (${c.how})` }));
    const pick = select("Metric", options, String(this.parallelMetric), (v) => { this.parallelMetric = Number(v); this.drawParallel(); }, "parallel-metric");
    pick.classList.add("metric-pick");
    this.parallelMsg.after(pick);
    this.chart ??= createChart(this.parallelHost, this.onDispose, "config-vs-metric");
    const data = runs.map((r) => ({ name: r.name, config: flat.get(r.id) ?? {}, metric: reduce(this.summary(r.id, metric.tag), metric.how) }));
    drawParallel(this.chart, data, keys, `${metric.tag} (${metric.how})`);
  }
}
