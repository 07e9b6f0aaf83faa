// Activation maximisation: for each unit or channel of a layer, the synthesised input that
// drives it hardest, with how much its activation grew from the starting noise.
import type { Artifact } from "../api";
import { append, clear, el, toolbar } from "../dom";
import { formatNumber } from "../lib/format";
import { artifactSelect, artifactsOf, blobImage, chosen, gallery, numberList, stringList } from "./explainShared";
import type { ViewModule } from "./types";

const HINT = "run.log_artifact(ds.explain.maximize(model, layer, input_shape=(C, H, W)))";
const SIZE = 112;

interface MaxData {
  layer: string;
  channels: number[];
  images: string[];
  start: number[];
  final: number[];
  steps: number;
  parameterization: string;
}

function asData(a: Artifact): MaxData {
  const d = a.data as Record<string, unknown>;
  return {
    layer: String(d.layer ?? "?"),
    channels: numberList(d.channels),
    images: stringList(d.images),
    start: numberList(d.start_activation),
    final: numberList(d.final_activation),
    steps: Number(d.steps ?? 0),
    parameterization: String(d.parameterization ?? ""),
  };
}

export const maximizationView: ViewModule = {
  id: "maximization",
  title: "Maximisation",
  requires: [{ what: "artifacts", kinds: ["maximization"] }],
  hint: HINT,
  async render(container, ctx) {
    const infos = await artifactsOf(ctx, "maximization", HINT);
    let current = chosen(ctx, infos);
    const body = el("section", "card");
    append(container, toolbar(artifactSelect(ctx, "Maximisation", infos, current, (a) => { current = a; void show(); }, "maximization-artifact")), body);
    async function show(): Promise<void> {
      const d = asData(await ctx.api.artifact(ctx.runId, current.id));
      if (ctx.signal.aborted) return;
      clear(body);
      append(body, el("h3", null, "What each channel of ", el("code", "layer-name", d.layer), ` responds to most (${d.parameterization} parameterisation, ${d.steps} steps)`));
      const g = gallery("maximization-gallery");
      d.channels.forEach((c, i) => {
        const key = d.images[i];
        if (!key) return;
        const caption = `channel ${c}: ${formatNumber(d.start[i], 3)} → ${formatNumber(d.final[i], 3)}`;
        const fig = el("figure", { class: "max-item", attrs: { "data-testid": "maximization-item", title: "mean activation on the starting noise → on this input" } }, blobImage(ctx, current.id, key, SIZE, `input maximising channel ${c}`), el("figcaption", null, caption));
        g.appendChild(fig);
      });
      body.appendChild(g);
    }
    await show();
  },
};
