// The overview's comparison of the route's run with the compared runs (`runs=` in the hash):
// config values that differ, final and best metrics side by side, and findings A vs B.
import type { Finding, RunDetail } from "../api";
import { append, clear, el, severityBadge } from "../dom";
import { formatNumber, formatValue } from "../lib/format";
import { metricOrder, summarize, type TagSummary } from "../lib/metrics";
import { flattenConfig } from "../lib/table";
import type { ViewContext } from "./types";

interface Side {
  run: RunDetail;
  findings: Finding[];
  metrics: Map<string, TagSummary>;
}

async function side(ctx: ViewContext, id: string, tags: string[]): Promise<Side> {
  const run = id === ctx.runId ? ctx.run : await ctx.api.run(id);
  const [f, series] = await Promise.all([
    ctx.api.findings(id).catch(() => ({ ok: true, findings: [] as Finding[] })),
    Promise.all(tags.filter((t) => run.tags.includes(t)).map((t) => ctx.api.scalars(id, t, { maxPoints: 200 }).catch(() => null))),
  ]);
  const metrics = new Map(series.filter((s) => s !== null).map((s) => [s.tag, summarize(s)]));
  return { run, findings: f.findings, metrics };
}

function table(testid: string, head: string[], rows: (Node | string)[][]): HTMLTableElement {
  return el("table", { class: "table compare-table", attrs: { "data-testid": testid } },
    el("thead", null, el("tr", null, ...head.map((h) => el("th", null, h)))),
    el("tbody", null, ...rows.map((r) => el("tr", null, ...r.map((c) => el("td", null, c))))));
}

export function configDiff(sides: readonly Side[]): { key: string; values: unknown[] }[] {
  const flat = sides.map((s) => flattenConfig(s.run.config));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
  return keys.map((key) => ({ key, values: flat.map((f) => f[key]) })).filter((r) => new Set(r.values.map((v) => JSON.stringify(v ?? null))).size > 1);
}

function findingCell(fs: Finding[]): Node {
  if (!fs.length) return el("span", "muted", "–");
  const box = el("span");
  for (const f of fs) append(box, severityBadge(f.severity), f.layer ? ` ${f.layer}` : "", f.step === null ? "" : ` @${f.step}`, el("br"));
  return box;
}

/** Fill `box` with the comparison of every run in the route. */
export async function compareSection(box: HTMLElement, ctx: ViewContext): Promise<void> {
  const tags = metricOrder([...new Set([...ctx.run.tags])]).slice(0, 12);
  const sides = await Promise.all(ctx.runIds.map((id) => side(ctx, id, tags).catch(() => null)));
  if (ctx.signal.aborted) return;
  const ok = sides.filter((s): s is Side => s !== null);
  clear(box);
  const names = ok.map((s) => s.run.name);
  append(box, el("h2", null, `Compared: ${names.join(" vs ")}`));
  const diff = configDiff(ok);
  append(box, el("h3", null, diff.length ? `Config: ${diff.length} values differ` : "Config: identical"),
    diff.length ? table("config-diff", ["key", ...names], diff.map((r) => [r.key, ...r.values.map(formatValue)])) : null);
  const metricRows = tags.map((t) => [t, ...ok.map((s) => {
    const m = s.metrics.get(t);
    return m ? `${m.last === null ? "NaN" : formatNumber(m.last, 4)} (best ${formatNumber(m.best, 4)})` : "–";
  })]);
  append(box, el("h3", null, "Final (best) of each metric"), table("metric-compare", ["metric", ...names], metricRows));
  const codes = [...new Set(ok.flatMap((s) => s.findings.filter((f) => f.severity !== "info").map((f) => f.code)))].sort();
  append(box, el("h3", null, codes.length ? "Findings (warnings and errors)" : "Findings: no warning or error in any run"),
    codes.length ? table("finding-compare", ["finding", ...names], codes.map((c) => [el("code", null, c), ...ok.map((s) => findingCell(s.findings.filter((f) => f.code === c && f.severity !== "info")))])) : null);
}
