// Weights of the compared runs beside the route's run: the spectrum of the chosen layer of every
// run on one log-log chart, and alpha and the fit's verdict per layer and run. Layers are matched
// by name; a run without stored weights, or without the layer, says so.
import type { ArtifactInfo } from "../api";
import { runColors } from "../charts/scalarChart";
import { el } from "../dom";
import { fmt } from "./explainShared";
import type { ViewContext } from "./types";
import { layersOf, QUALITY_COLOR, QUALITY_TEXT, type LayerEntry } from "./weightData";

export interface WeightSide {
  id: string;
  name: string;
  color: string;
  /** null: the run stored no weights. */
  layers: LayerEntry[] | null;
}

/** The route's run (given) and each compared run's newest weights artifact. */
export async function weightSides(ctx: ViewContext, own: LayerEntry[]): Promise<WeightSide[]> {
  const colors = runColors(ctx.runIds, new Map(ctx.runs.map((r) => [r.id, r.name])));
  return Promise.all(colors.map(async (c, i) => {
    if (i === 0) return { ...c, layers: own };
    const infos = (await ctx.api.artifacts(c.id).catch(() => [] as ArtifactInfo[])).filter((a) => a.kind === "weights");
    const last = infos[infos.length - 1];
    return { ...c, layers: last ? layersOf(await ctx.api.artifact(c.id, last.id)) : null };
  }));
}

function verdict(s: WeightSide, layer: string): Node {
  if (s.layers === null) return el("span", "muted", "no weights stored");
  const e = s.layers.find((l) => l.name === layer);
  if (!e) return el("span", "muted", "no such layer");
  const q = el("span", { attrs: { "data-quality": e.quality }, title: e.quality_reason ?? undefined }, QUALITY_TEXT[e.quality] ?? e.quality.replace("_", " "));
  q.style.color = QUALITY_COLOR[e.quality] ?? "#777";
  return el("span", null, `alpha ${fmt(e.alpha, 2)} · `, q);
}

/** Layer x run table of alpha and quality (the route's run's layers, in its order). */
export function compareTable(sides: readonly WeightSide[], onPick: (name: string) => void): HTMLElement {
  const own = sides[0]?.layers ?? [];
  const head = el("thead", null, el("tr", null, el("th", null, "layer"), ...sides.map((s) => el("th", null, s.name))));
  const body = el("tbody", null, ...own.map((e) => {
    const tr = el("tr", { attrs: { "data-layer": e.name }, on: { click: () => onPick(e.name) } }, el("td", null, el("code", "layer-name", e.name)), ...sides.map((s) => el("td", { attrs: { "data-run-id": s.id } }, verdict(s, e.name))));
    tr.style.cursor = "pointer";
    return tr;
  }));
  return el("section", { class: "card", attrs: { "data-testid": "weights-comparison" } },
    el("h3", null, "Compared runs: alpha and verdict of each layer (click a row for its spectra)"),
    el("table", { class: "table compare-table", attrs: { "data-testid": "weights-compare" } }, head, body));
}
