import type { Api, RunSummary } from "../api";
import { append, clear, el, link, severityBadge, toolbar } from "../dom";
import { formatDuration, formatNumber, formatTime, formatValue } from "../lib/format";
import { reduce, type Reduction } from "../lib/metrics";
import { runHref } from "../lib/route";
import { flattenConfig, matchesFilter, sortRows } from "../lib/table";
import { MetricColumns, type MetricColumn } from "./runMetrics";
import type { ParamPatch } from "./types";

export interface RunsContext {
  api: Api;
  runs: RunSummary[];
  params: URLSearchParams;
  setParams(patch: ParamPatch): void;
  navigate(hash: string): void;
  /** Register cleanup run when the page is left. */
  onDispose(fn: () => void): void;
}

interface Column {
  id: string;
  label: string;
  value(r: RunSummary): unknown;
  cell(r: RunSummary): Node | string;
}

const MAX_CONFIG_COLUMNS = 16;

function findingsCell(r: RunSummary): Node {
  const box = el("span", { class: "counts", attrs: { "data-testid": "finding-counts" } });
  if (!r.findings) {
    append(box, el("span", "muted", "diagnosing…")); // counts arrive with the `findings` event
    return box;
  }
  for (const sev of ["error", "warning", "info"] as const) {
    const n = r.findings?.[sev] ?? 0;
    if (n > 0) append(box, severityBadge(sev), el("span", "count", String(n)), " ");
  }
  if (!box.firstChild) append(box, el("span", "muted", "none"));
  return box;
}

function metricColumn(m: MetricColumns, c: MetricColumn): Column {
  return {
    id: `metric:${c.how}:${c.tag}`,
    label: `${c.tag} (${c.how})`,
    value: (r) => reduce(m.summary(r.id, c.tag), c.how as Reduction),
    cell: (r) => {
      const t = m.summary(r.id, c.tag);
      if (t === undefined) return el("span", "muted", "…");
      const v = reduce(t, c.how);
      return el("span", { attrs: { "data-testid": "metric-cell", "data-value": v ?? "" } }, v === null ? "–" : formatNumber(v, 4));
    },
  };
}

function columns(runs: RunSummary[], metrics: MetricColumns | null = null): Column[] {
  const flat = new Map(runs.map((r) => [r.id, flattenConfig(r.config ?? {})]));
  // Keys whose values differ between runs first (what distinguishes them), then the rest.
  const all = [...new Set(runs.flatMap((r) => Object.keys(flat.get(r.id) ?? {})))].sort();
  const differs = (k: string): boolean => new Set(runs.map((r) => JSON.stringify(flat.get(r.id)?.[k] ?? null))).size > 1;
  const keys = [...all.filter(differs), ...all.filter((k) => !differs(k))].slice(0, MAX_CONFIG_COLUMNS);
  const base: Column[] = [
    { id: "name", label: "Name", value: (r) => r.name, cell: (r) => link(runHref(r.id, "overview"), r.name) },
    { id: "status", label: "Status", value: (r) => r.status, cell: (r) => el("span", { class: `status status-${/^[a-z]+$/.test(r.status) ? r.status : "other"}`, title: r.error ?? undefined }, r.status) },
    { id: "start", label: "Started", value: (r) => r.started_at, cell: (r) => formatTime(r.started_at) },
    { id: "duration", label: "Duration", value: (r) => r.duration, cell: (r) => formatDuration(r.duration) },
    { id: "steps", label: "Steps", value: (r) => r.last_step, cell: (r) => (r.last_step === null ? "–" : String(r.last_step)) },
    {
      id: "findings",
      label: "Findings",
      value: (r) => (r.findings?.error ?? 0) * 1e6 + (r.findings?.warning ?? 0) * 1e3 + (r.findings?.info ?? 0),
      cell: findingsCell,
    },
  ];
  const cfg: Column[] = keys.map((k) => ({
    id: `cfg:${k}`,
    label: k,
    value: (r) => flat.get(r.id)?.[k],
    cell: (r) => formatValue(flat.get(r.id)?.[k]),
  }));
  return [...base, ...(metrics ? metrics.columns.map((c) => metricColumn(metrics, c)) : []), ...cfg];
}

/** The home page: every run, sortable, filterable, with selection for comparison. */
export function renderRuns(container: HTMLElement, ctx: RunsContext): (runs: RunSummary[]) => void {
  const metrics = new MetricColumns(ctx.api, ctx.params, ctx.setParams, ctx.onDispose, () => {
    cols = columns(ctx.runs, metrics);
    drawHead();
    drawBody();
  });
  let cols = columns(ctx.runs, metrics);
  let sortId = ctx.params.get("sort") ?? "start";
  let desc = ctx.params.get("desc") !== "0";
  let query = ctx.params.get("q") ?? "";
  const selected = new Set((ctx.params.get("sel") ?? "").split(",").filter((id) => ctx.runs.some((r) => r.id === id)));

  const compareBtn = el("button", {
    attrs: { type: "button", "data-testid": "compare" },
    on: {
      click: () => {
        const ids = ctx.runs.filter((r) => selected.has(r.id)).map((r) => r.id);
        if (ids.length) ctx.navigate(runHref(ids[0] as string, "scalars", { runs: ids.slice(1).join(",") }));
      },
    },
  });
  const filterInput = el("input", {
    attrs: { type: "search", placeholder: "Filter by name, status or config", value: query, "data-testid": "runs-filter" },
    on: { input: () => { query = filterInput.value; ctx.setParams({ q: query || null }); drawBody(); } },
  });
  const head = el("tr");
  const body = el("tbody");
  const table = el("table", { class: "runs", attrs: { "data-testid": "runs-table" } }, el("thead", null, head), body);

  function updateCompare(): void {
    compareBtn.textContent = `Compare ${selected.size} selected`;
    compareBtn.disabled = selected.size === 0;
    ctx.setParams({ sel: [...selected].join(",") || null });
  }

  function drawHead(): void {
    clear(head);
    append(head, el("th", null, ""));
    for (const c of cols) {
      const arrow = c.id === sortId ? (desc ? " ▼" : " ▲") : "";
      const remove = c.id.startsWith("metric:") ? metrics.removeButton(c.id) : null;
      const th = el("th", { attrs: { "data-col": c.id, "aria-sort": c.id === sortId ? (desc ? "descending" : "ascending") : "none" } },
        el("button", { class: "sort", attrs: { type: "button" }, on: { click: () => {
          if (sortId === c.id) desc = !desc;
          else { sortId = c.id; desc = false; }
          ctx.setParams({ sort: sortId, desc: desc ? 1 : 0 });
          drawHead();
          drawBody();
        } } }, c.label, arrow), remove);
      head.appendChild(th);
    }
  }

  function drawBody(): void {
    clear(body);
    const col = cols.find((c) => c.id === sortId) ?? (cols[2] as Column);
    const visible = ctx.runs.filter((r) =>
      matchesFilter([r.name, r.status, r.id, ...Object.values(flattenConfig(r.config ?? {})).map(formatValue)], query),
    );
    metrics.setVisible(visible);
    for (const r of sortRows(visible, col.value, desc)) {
      const box = el("input", { attrs: { type: "checkbox", "aria-label": `select ${r.name}` }, on: { change: () => {
        if (box.checked) selected.add(r.id);
        else selected.delete(r.id);
        updateCompare();
      } } });
      box.checked = selected.has(r.id);
      const tr = el("tr", { attrs: { "data-run-id": r.id, "data-testid": "run-row" } }, el("td", null, box));
      for (const c of cols) tr.appendChild(el("td", { attrs: { "data-col": c.id } }, c.cell(r)));
      body.appendChild(tr);
    }
    if (!visible.length) body.appendChild(el("tr", null, el("td", { class: "muted", attrs: { colspan: cols.length + 1 } }, ctx.runs.length ? "No run matches the filter." : "No runs yet.")));
  }

  const title = el("h2", null, `Runs (${ctx.runs.length})`);
  append(
    container,
    title,
    toolbar(el("label", "control", el("span", null, "Filter"), filterInput), compareBtn, metrics.controls),
    el("div", "table-wrap", table),
    metrics.parallelCard,
  );
  drawHead();
  drawBody();
  updateCompare();
  metrics.setRuns(ctx.runs);
  // Live update: new runs, statuses and finding counts, keeping filter, sort and selection.
  return (runs) => {
    ctx.runs = runs;
    metrics.setRuns(runs);
    cols = columns(runs, metrics);
    title.textContent = `Runs (${runs.length})`;
    drawHead();
    drawBody();
  };
}
