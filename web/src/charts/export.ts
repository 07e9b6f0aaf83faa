// PNG and SVG export of every chart: a small bar of two buttons in front of the chart. ECharts
// charts draw on canvas; their SVG is the same option rendered once by ECharts' SVG renderer (text
// and lines stay vectors). Canvas charts (heatmap, graph) bring their own `Exportable`. Files are
// saved through a blob: link, which works from the dashboard and from a report opened offline.
import * as echarts from "echarts/core";
import { el } from "../dom";

export interface Exportable {
  /** File name without extension. */
  name: string;
  png(): Promise<Blob>;
  svg(): string | Promise<string>;
}

/** A file-name-safe version of `text`. */
export function fileName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 80) || "chart";
}

/** The title a chart is known by: the nearest card heading, else the page title. */
export function chartTitle(host: Element): string {
  const card = host.closest(".chart-card, .card, figure");
  const h = card?.querySelector("h2, h3, figcaption");
  return h?.textContent?.trim() || document.title || "chart";
}

export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = el("a", { attrs: { href: url, download: name } });
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function dataUrlToBlob(url: string): Blob {
  const [head, body = ""] = url.split(",", 2);
  const mime = /data:([^;]+)/.exec(head ?? "")?.[1] ?? "application/octet-stream";
  const bin = atob(body);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type: mime });
}

export function canvasPng(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the chart could not be encoded as PNG"))), "image/png"));
}

/** Rasterise an SVG document (2x) into a PNG. */
export async function svgToPng(svg: string, width: number, height: number): Promise<Blob> {
  const img = new Image();
  const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  try {
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error("the chart could not be rasterised"));
      img.src = url;
    });
    const c = document.createElement("canvas");
    c.width = Math.max(1, Math.round(width * 2));
    c.height = Math.max(1, Math.round(height * 2));
    const g = c.getContext("2d");
    if (!g) throw new Error("no 2-D canvas");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, c.width, c.height);
    g.drawImage(img, 0, 0, c.width, c.height);
    return await canvasPng(c);
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Export of an ECharts chart: PNG from its canvas, SVG from the same option re-rendered. */
export function echartsExport(chart: echarts.ECharts, host: HTMLElement, name?: string): Exportable {
  return {
    name: fileName(name ?? chartTitle(host)),
    png: async () => dataUrlToBlob(chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" })),
    svg: () => {
      const svg = echarts.init(null, undefined, { renderer: "svg", ssr: true, width: chart.getWidth(), height: chart.getHeight() });
      try {
        svg.setOption({ ...(chart.getOption() as object), animation: false, backgroundColor: "#fff" });
        return svg.renderToSVGString();
      } finally {
        svg.dispose();
      }
    },
  };
}

/** The PNG / SVG buttons of one chart, in front of `host` (or inside it when it has no parent). */
export function addExportBar(host: HTMLElement, get: () => Exportable): HTMLElement {
  const save = async (kind: "png" | "svg"): Promise<void> => {
    const x = get();
    const blob = kind === "png" ? await x.png() : new Blob([await x.svg()], { type: "image/svg+xml" });
    download(blob, `${x.name}.${kind}`);
  };
  const button = (kind: "png" | "svg"): HTMLButtonElement =>
    el("button", { attrs: { type: "button", "data-testid": `export-${kind}`, title: `Save this chart as ${kind.toUpperCase()}` }, on: { click: () => void save(kind) } }, kind.toUpperCase());
  const bar = el("div", { class: "chart-export", attrs: { "data-testid": "chart-export" } }, button("png"), button("svg"));
  if (host.parentElement) host.before(bar);
  else host.prepend(bar);
  return bar;
}
