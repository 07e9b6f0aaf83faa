// Shared by the explain views (attributions, embeddings, predictions, weights): picking an
// artifact of a kind, reading its JSON data, and pixel-exact images from stored PNG blobs.
// Artifact data shapes: docs/artifacts.md.
import type { ArtifactInfo } from "../api";
import { NotRecordedError } from "../api";
import { el, select } from "../dom";
import type { ViewContext } from "./types";

/** Stored artifacts of `kind`, oldest first; a NotRecordedError (placeholder) when there are none. */
export async function artifactsOf(ctx: ViewContext, kind: string, hint: string): Promise<ArtifactInfo[]> {
  const infos = (await ctx.api.artifacts(ctx.runId)).filter((a) => a.kind === kind);
  if (infos.length === 0) throw new NotRecordedError(`no ${kind} artifacts in this run (${hint})`);
  return infos;
}

/** The artifact chosen in the hash (`?artifact=<id>`), else the newest. */
export function chosen(ctx: ViewContext, infos: readonly ArtifactInfo[]): ArtifactInfo {
  const want = Number(ctx.params.get("artifact"));
  return infos.find((a) => a.id === want) ?? (infos[infos.length - 1] as ArtifactInfo);
}

export function artifactLabel(a: ArtifactInfo): string {
  return a.step === null || a.step === undefined ? a.name : `${a.name} · step ${a.step}`;
}

/** A select over artifacts; the choice is kept in the hash. */
export function artifactSelect(
  ctx: ViewContext,
  label: string,
  infos: readonly ArtifactInfo[],
  current: ArtifactInfo,
  onChange: (a: ArtifactInfo) => void,
  testid: string,
): HTMLLabelElement {
  const options = infos.map((a) => ({ value: String(a.id), label: artifactLabel(a) }));
  return select(label, options, String(current.id), (v) => {
    const a = infos.find((x) => String(x.id) === v);
    if (!a) return;
    ctx.setParams({ artifact: a.id });
    onChange(a);
  }, testid);
}

/** An <img> of a stored PNG blob, scaled without smoothing (8x8 digits stay crisp). */
export function blobImage(ctx: ViewContext, artifactId: number, key: string, size: number, alt: string): HTMLImageElement {
  const img = el("img", { attrs: { src: ctx.api.blobUrl(ctx.runId, artifactId, key), alt, width: size, height: size } });
  img.style.imageRendering = "pixelated";
  img.style.display = "block";
  return img;
}

export function numberList(v: unknown): number[] {
  return Array.isArray(v) ? v.map((x) => (typeof x === "number" ? x : Number.NaN)) : [];
}

export function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.map((x) => String(x)) : [];
}

export function matrix(v: unknown): number[][] {
  return Array.isArray(v) ? v.map((row) => numberList(row)) : [];
}

export function fmt(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(digits);
}

/** A flex-wrap gallery container. */
export function gallery(testid: string): HTMLElement {
  const g = el("div", { attrs: { "data-testid": testid } });
  g.style.display = "flex";
  g.style.flexWrap = "wrap";
  g.style.gap = "10px";
  return g;
}

/** Red (positive) / blue (negative) background for a signed score in [-1, 1]. */
export function signedColor(t: number): string {
  const a = Math.min(1, Math.abs(t));
  return t >= 0 ? `rgba(214, 39, 40, ${a.toFixed(3)})` : `rgba(31, 119, 180, ${a.toFixed(3)})`;
}
