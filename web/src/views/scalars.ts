import { ScalarChart, runColors, type ScalarDisplay, type XAxisMode } from "../charts/scalarChart";
import { append, checkbox, clear, el, select, slider, toolbar } from "../dom";
import { groupTags } from "../lib/tags";
import { matchesFilter } from "../lib/table";
import type { ViewContext, ViewModule } from "./types";

/** Tags of every compared run (a run without scalars contributes none). */
async function allTags(ctx: ViewContext): Promise<string[]> {
  const lists = await Promise.all(ctx.runIds.map((id) => ctx.api.scalarTags(id).catch(() => [] as string[])));
  return [...new Set(lists.flat())];
}

export const scalarsView: ViewModule = {
  id: "scalars",
  title: "Scalars",
  requires: [{ what: "scalars" }],
  hint: 'run.log({"train/loss": loss}, step=step)',
  async render(container, ctx) {
    const display: ScalarDisplay = {
      smoothing: Number(ctx.params.get("smooth") ?? 0.6),
      log: ctx.params.get("log") === "1",
      x: (["step", "relative", "wall"] as const).find((m) => m === ctx.params.get("x")) ?? "step",
    };
    let filter = ctx.params.get("q") ?? "";
    const names = new Map(ctx.runs.map((r) => [r.id, r.name]));
    const runs = runColors(ctx.runIds, names);
    const charts = new Map<string, ScalarChart>();
    const groupsBox = el("div", "tag-groups");
    const filterInput = el("input", {
      attrs: { type: "search", placeholder: "Filter tags", value: filter, "data-testid": "tag-filter" },
      on: {
        input: () => {
          filter = filterInput.value;
          ctx.setParams({ q: filter || null });
          applyFilter();
        },
      },
    });
    append(
      container,
      toolbar(
        slider("Smoothing", { min: 0, max: 0.99, step: 0.01, value: display.smoothing }, (v) => {
          display.smoothing = v;
          ctx.setParams({ smooth: v });
          for (const c of charts.values()) c.setDisplay(display);
        }, (v) => v.toFixed(2), "smoothing"),
        checkbox("Log scale", display.log, (v) => {
          display.log = v;
          ctx.setParams({ log: v ? 1 : null });
          for (const c of charts.values()) c.setDisplay(display);
        }, "log-scale"),
        select("Horizontal axis", [{ value: "step", label: "Step" }, { value: "relative", label: "Relative time" }, { value: "wall", label: "Wall time" }], display.x, (v) => {
          display.x = v as XAxisMode;
          ctx.setParams({ x: v === "step" ? null : v });
          for (const c of charts.values()) c.setDisplay(display);
        }, "x-axis"),
        el("label", "control", el("span", null, "Tags"), filterInput),
      ),
      groupsBox,
    );

    // Charts are created and loaded when they scroll into view: hundreds of tags stay cheap.
    const io = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        io.unobserve(e.target);
        const tag = (e.target as HTMLElement).dataset.tag as string;
        const chart = new ScalarChart(e.target as HTMLElement, ctx.api, tag, runs, display, ctx.onDispose);
        charts.set(tag, chart);
        void chart.load();
      }
    }, { rootMargin: "300px" });
    ctx.onDispose(() => io.disconnect());

    const cards = new Map<string, HTMLElement>();
    function applyFilter(): void {
      for (const [tag, card] of cards) card.hidden = !matchesFilter([tag], filter);
      for (const g of groupsBox.querySelectorAll<HTMLElement>("details.tag-group")) {
        g.hidden = [...g.querySelectorAll<HTMLElement>(".chart-card")].every((c) => c.hidden);
      }
    }

    function addTags(tags: string[]): void {
      const fresh = tags.filter((t) => !cards.has(t));
      if (!fresh.length) return;
      clear(groupsBox);
      const all = [...cards.keys(), ...fresh];
      for (const [prefix, list] of groupTags(all)) {
        const grid = el("div", "chart-grid");
        for (const tag of list) {
          let card = cards.get(tag);
          if (!card) {
            const host = el("div", { attrs: { "data-tag": tag, "data-testid": "scalar-chart" } });
            card = el("div", "chart-card", el("h3", null, tag), host);
            cards.set(tag, card);
            io.observe(host);
          }
          grid.appendChild(card);
        }
        append(groupsBox, el("details", { class: "tag-group", attrs: { open: true } }, el("summary", null, `${prefix} (${list.length})`), grid));
      }
      applyFilter();
    }

    addTags(await allTags(ctx));
    return {
      async refresh() {
        addTags(await allTags(ctx));
        await Promise.all([...charts.values()].map((c) => c.load()));
      },
    };
  },
};
