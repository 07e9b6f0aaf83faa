import type { Finding, FindingsResult, RunDetail } from "../api";
import { sparkline } from "../charts/sparkline";
import { append, clear, el, link, loading, severityBadge } from "../dom";
import { formatDuration, formatNumber, formatTime, formatValue } from "../lib/format";
import { metricOrder, summarize, type TagSummary } from "../lib/metrics";
import { flattenConfig } from "../lib/table";
import { compareSection } from "./compare";
import { drawEvidence } from "./evidence";
import { findingTarget } from "./links";
import type { ViewContext, ViewModule } from "./types";

const ORDER: Record<string, number> = { error: 0, warning: 1, info: 2 };
const METRIC_CARDS = 8;

function summary(run: RunDetail): HTMLElement {
  const facts: [string, string][] = [
    ["Started", formatTime(run.started_at)],
    ["Duration", formatDuration(run.duration)],
    ["Last step", run.last_step === null ? "–" : String(run.last_step)],
    ["Layers watched", String(run.layers)],
    ["Scalar tags", String(run.tags.length)],
    ["Statistics", run.kinds.join(", ") || "–"],
    ["Host", run.host],
    ["torch", run.torch_version],
    ["git", run.git_commit ?? "–"],
  ];
  const dl = el("dl", "facts");
  for (const [k, v] of facts) append(dl, el("dt", null, k), el("dd", null, v));
  const config = flattenConfig(run.config);
  const cfg = el("dl", "facts config");
  for (const [k, v] of Object.entries(config)) append(cfg, el("dt", null, k), el("dd", null, formatValue(v)));
  const status = /^[a-z]+$/.test(run.status) ? run.status : "other";
  return el(
    "section",
    { class: "card run-summary", attrs: { "data-testid": "run-summary" } },
    el("h2", null, run.name, " ", el("span", { class: `status-badge status-${status}`, attrs: { "data-testid": "run-status" } }, run.status)),
    run.error ? el("div", "error-box", run.error) : null,
    dl,
    Object.keys(config).length ? el("details", { attrs: { open: Object.keys(config).length <= 8 } }, el("summary", null, `Config (${Object.keys(config).length})`), cfg) : null,
  );
}

function metricCard(ctx: ViewContext, t: TagSummary, steps: number[], values: (number | null)[]): HTMLElement {
  const lastBad = t.last === null && t.lastStep !== null;
  return el(
    "a",
    { class: "metric", attrs: { href: ctx.href("scalars", { q: t.tag }), "data-testid": "metric-card", "data-tag": t.tag, "data-last": t.last ?? "", "data-best": t.best ?? "" } },
    el("div", "metric-tag", t.tag),
    el("div", "metric-values",
      el("span", "metric-last", lastBad ? "NaN" : formatNumber(t.last, 4)),
      el("span", "muted", ` final · ${t.better === "min" ? "lowest" : "highest"} `),
      el("span", "metric-best", formatNumber(t.best, 4)),
      t.bestStep === null ? null : el("span", "muted", ` at ${t.bestStep}`)),
    sparkline(steps, values, t.best),
  );
}

async function metrics(box: HTMLElement, ctx: ViewContext): Promise<void> {
  const tags = metricOrder(ctx.run.tags).slice(0, METRIC_CARDS);
  if (!tags.length) {
    append(box, el("p", "muted", "No scalars logged (run.log({\"train/loss\": loss}, step=step))."));
    return;
  }
  const got = await Promise.all(tags.map((t) => ctx.api.scalars(ctx.runId, t, { maxPoints: 200 }).catch(() => null)));
  if (ctx.signal.aborted) return;
  clear(box);
  for (const s of got) if (s) box.appendChild(metricCard(ctx, summarize(s), s.steps, s.values));
}

function findingCard(f: Finding, ctx: ViewContext): HTMLElement {
  const target = findingTarget(f);
  const evidence = el("dl", "facts evidence");
  for (const [k, v] of Object.entries(f.evidence ?? {})) append(evidence, el("dt", null, k), el("dd", null, formatValue(v)));
  const where = el("div", "where");
  if (f.layer !== null) append(where, "layer ", el("code", null, f.layer), "  ");
  if (f.step !== null) append(where, `step ${f.step}`);
  const links = el("div", "links");
  if (ctx.hasView(target.view)) append(links, link(ctx.href(target.view, target.params), `Show in ${target.label} →`));
  if (f.layer !== null && ctx.hasView("graph")) append(links, " ", link(ctx.href("graph", { layer: f.layer, step: f.step }), "Show in graph →"));
  const chart = el("div", { class: "evidence-chart", attrs: { "data-testid": "evidence-chart" } });
  const card = el(
    "article",
    { class: `card finding sev-${f.severity}`, attrs: { "data-testid": "finding-card", "data-code": f.code } },
    el("header", null, severityBadge(f.severity), " ", el("code", "code", f.code), where),
    el("p", "message", f.message),
    chart,
    Object.keys(f.evidence ?? {}).length ? el("details", null, el("summary", null, "Evidence"), evidence) : null,
    el("p", "suggestion", el("strong", null, "Suggestion: "), f.suggestion),
    links,
  );
  void drawEvidence(chart, f, ctx).then((drawn) => {
    if (!drawn) chart.remove();
  }).catch(() => chart.remove());
  return card;
}

function sortFindings(result: FindingsResult): Finding[] {
  return [...result.findings].sort((a, b) => (ORDER[a.severity] ?? 3) - (ORDER[b.severity] ?? 3) || (a.step ?? 0) - (b.step ?? 0));
}

async function renderFindings(box: HTMLElement, ctx: ViewContext): Promise<void> {
  const result = await ctx.api.findings(ctx.runId);
  if (ctx.signal.aborted) return;
  clear(box);
  const findings = sortFindings(result);
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) if (f.severity in counts) counts[f.severity] += 1;
  const verdict = result.ok ? "no problems found" : `${counts.error} errors, ${counts.warning} warnings`;
  append(box, el("h2", null, "Diagnosis ", el("span", { class: result.ok ? "verdict ok" : "verdict bad", attrs: { "data-testid": "verdict" } }, verdict)));
  if (findings.length === 0) append(box, el("p", "muted", "No findings: nothing in the recorded data looks wrong."));
  const grid = el("div", "finding-grid");
  for (const f of findings) grid.appendChild(findingCard(f, ctx));
  box.appendChild(grid);
}

/** Views fed by the run's statistics (graph: traced at watch time, checked by its view). */
const STAT_VIEWS: [string, string, (r: ViewContext["run"]) => boolean][] = [
  ["scalars", "Scalars", (r) => r.tags.length > 0],
  ["health", "Layer health", (r) => ["grad", "update", "activation", "weight"].some((k) => r.kinds.includes(k))],
  ["distributions", "Distributions", (r) => r.kinds.length > 0],
  ["graph", "Graph", (r) => r.layers > 0],
];
/** Explain views, by the artifact kind each shows. */
const ARTIFACT_VIEWS: [string, string, string][] = [
  ["attributions", "Attributions", "attributions"], ["importance", "Importance", "feature_importance"],
  ["embeddings", "Embeddings", "embedding"], ["predictions", "Predictions", "predictions"],
  ["boundary", "Boundary", "decision_boundary"], ["maximization", "Maximisation", "maximization"],
  ["weights", "Weights", "weights"],
];

/** Links to the views that have something to show for this run (not to empty placeholders). */
async function viewLinks(nav: HTMLElement, ctx: ViewContext): Promise<void> {
  const kinds = new Set((await ctx.api.artifacts(ctx.runId).catch(() => [])).map((a) => a.kind));
  if (ctx.signal.aborted) return;
  append(nav, el("span", "muted", "Open: "));
  for (const [id, label, has] of STAT_VIEWS) if (ctx.hasView(id) && has(ctx.run)) append(nav, link(ctx.href(id), label), " ");
  for (const [id, label, kind] of ARTIFACT_VIEWS) if (ctx.hasView(id) && kinds.has(kind)) append(nav, link(ctx.href(id), label), " ");
}

/** Findings of a live run are re-diagnosed at most this often (diagnosis is not free). */
const FINDINGS_EVERY_MS = 5000;

export const overviewView: ViewModule = {
  id: "overview",
  title: "Overview",
  requires: [],
  hint: "ds.init(...)",
  async render(container, ctx) {
    let card = summary(ctx.run);
    const metricBox = el("section", { class: "metric-grid", attrs: { "data-testid": "metrics" } }, loading());
    const findings = el("section", "findings", loading());
    const comparison = ctx.runIds.length > 1 ? el("section", { class: "card", attrs: { "data-testid": "comparison" } }, loading()) : null;
    const links = el("nav", { class: "view-links", attrs: { "data-testid": "view-links" } });
    append(container, el("div", "overview", card, el("div", null, metricBox, links)), comparison, findings);
    await Promise.all([metrics(metricBox, ctx), renderFindings(findings, ctx), viewLinks(links, ctx), comparison ? compareSection(comparison, ctx) : null]);
    let last = Date.now();
    let timer = 0;
    ctx.onDispose(() => window.clearTimeout(timer));
    return {
      refresh: async () => {
        const fresh = summary(ctx.run); // ctx.run is updated in place by the shell
        card.replaceWith(fresh);
        card = fresh;
        void metrics(metricBox, ctx);
        const wait = last + FINDINGS_EVERY_MS - Date.now();
        window.clearTimeout(timer);
        if (wait <= 0) {
          last = Date.now();
          await renderFindings(findings, ctx);
        } else {
          timer = window.setTimeout(() => {
            last = Date.now();
            void renderFindings(findings, ctx).catch(() => undefined);
          }, wait);
        }
      },
    };
  },
};
