import type { Finding, RunDetail } from "../api";
import { append, clear, el, link, loading, severityBadge } from "../dom";
import { formatDuration, formatTime, formatValue } from "../lib/format";
import { flattenConfig } from "../lib/table";
import { findingTarget } from "./links";
import type { ViewContext, ViewModule } from "./types";

const ORDER: Record<string, number> = { error: 0, warning: 1, info: 2 };

function summary(run: RunDetail): HTMLElement {
  const facts: [string, string][] = [
    ["Status", run.status],
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
  return el(
    "section",
    "card",
    el("h2", null, run.name),
    run.error ? el("div", "error-box", run.error) : null,
    dl,
    Object.keys(config).length ? el("h3", null, "Config") : null,
    Object.keys(config).length ? cfg : null,
  );
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
  return el(
    "article",
    { class: `card finding sev-${f.severity}`, attrs: { "data-testid": "finding-card", "data-code": f.code } },
    el("header", null, severityBadge(f.severity), " ", el("code", "code", f.code), where),
    el("p", "message", f.message),
    Object.keys(f.evidence ?? {}).length ? el("details", { attrs: { open: true } }, el("summary", null, "Evidence"), evidence) : null,
    el("p", "suggestion", el("strong", null, "Suggestion: "), f.suggestion),
    links,
  );
}

async function renderFindings(box: HTMLElement, ctx: ViewContext): Promise<void> {
  const result = await ctx.api.findings(ctx.runId);
  if (ctx.signal.aborted) return;
  clear(box);
  const findings = [...result.findings].sort((a, b) => (ORDER[a.severity] ?? 3) - (ORDER[b.severity] ?? 3) || (a.step ?? 0) - (b.step ?? 0));
  const counts = { error: 0, warning: 0, info: 0 };
  for (const f of findings) if (f.severity in counts) counts[f.severity] += 1;
  append(
    box,
    el(
      "h2",
      null,
      "Diagnosis ",
      el("span", { class: result.ok ? "verdict ok" : "verdict bad", attrs: { "data-testid": "verdict" } }, result.ok ? "no problems found" : `${counts.error} errors, ${counts.warning} warnings`),
    ),
  );
  if (findings.length === 0) append(box, el("p", "muted", "No findings: nothing in the recorded data looks wrong."));
  for (const f of findings) append(box, findingCard(f, ctx));
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
    const findings = el("section", "findings", loading());
    append(container, el("div", "overview", card, findings));
    await renderFindings(findings, ctx);
    let last = Date.now();
    let timer = 0;
    ctx.onDispose(() => window.clearTimeout(timer));
    return {
      refresh: async () => {
        const fresh = summary(ctx.run); // ctx.run is updated in place by the shell
        card.replaceWith(fresh);
        card = fresh;
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
