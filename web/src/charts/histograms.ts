import type { HistogramSeries } from "../api";
import { formatNumber } from "../lib/format";
import { evenlySpaced, rebin, rowShades, stepCurve } from "../lib/histograms";
import { BASE, RAMP, type Chart } from "./echarts";

const CURVES = 30;

/**
 * TensorBoard's "offset" histogram view: one filled curve per step (at most 30, evenly chosen),
 * later steps lower and darker. Heights are shares per unit value, scaled to the tallest curve.
 */
export function drawRidgeline(chart: Chart, h: HistogramSeries): void {
  const idx = evenlySpaced(h.steps.length, CURVES);
  const curves = idx.map((i) => stepCurve(h, i));
  const peak = Math.max(1e-300, ...curves.flatMap((c) => c.map((p) => p[1])));
  const gap = 1;
  const height = 3; // a curve may rise over ~3 rows: the ridgeline look
  const n = idx.length;
  const series = curves.map((curve, j) => {
    const base = (n - 1 - j) * gap;
    const t = n > 1 ? j / (n - 1) : 1;
    const color = `hsl(24, 85%, ${Math.round(78 - 45 * t)}%)`;
    return {
      type: "line",
      name: `step ${h.steps[idx[j] as number]}`,
      data: curve.map(([x, d]) => [x, base + (d / peak) * height]),
      showSymbol: false,
      smooth: false,
      lineStyle: { width: 1, color: "#5a2d0c" },
      areaStyle: { color, opacity: 1, origin: base },
      z: j,
      silent: true,
    };
  });
  chart.setOption(
    {
      ...BASE,
      grid: { left: 70, right: 16, top: 16, bottom: 30 },
      tooltip: { show: false },
      xAxis: { type: "value", scale: true, axisLabel: { formatter: (v: number) => formatNumber(v, 3) } },
      yAxis: {
        type: "value",
        min: 0,
        max: (n - 1) * gap + height,
        interval: Math.max(1, Math.ceil(n / 8)) * gap,
        axisLabel: { formatter: (v: number) => { const j = n - 1 - Math.round(v / gap); return j >= 0 && j < n ? `step ${h.steps[idx[j] as number]}` : ""; } },
        splitLine: { show: false },
      },
      series,
    },
    { notMerge: true },
  );
}

/** TensorBoard's distribution view as a heatmap: steps across, values up, colour = share. */
export function drawDistributionHeatmap(chart: Chart, h: HistogramSeries): void {
  const bins = 60;
  const r = rebin(h, bins);
  const centers = r.edges.slice(0, -1).map((e, j) => (e + (r.edges[j + 1] as number)) / 2);
  const cells: [number, number, number, number][] = []; // step, bin, shade, share
  r.density.forEach((row, si) => rowShades(row).forEach((shade, b) => {
    if (shade > 0) cells.push([si, b, shade, row[b] as number]);
  }));
  chart.setOption(
    {
      ...BASE,
      grid: { left: 70, right: 80, top: 16, bottom: 40 },
      tooltip: {
        renderMode: "richText",
        formatter: (p: { value: [number, number, number, number] }) => `step ${r.steps[p.value[0]]}\nvalue ≈ ${formatNumber(centers[p.value[1]] ?? 0, 4)}\nshare ${formatNumber(p.value[3], 3)}`,
      },
      xAxis: { type: "category", data: r.steps.map(String), name: "step", nameLocation: "middle", nameGap: 26, axisLabel: { hideOverlap: true } },
      yAxis: { type: "category", data: centers.map((c) => formatNumber(c, 3)), axisLabel: { hideOverlap: true } },
      // Shade = sqrt(share / the step's largest share): every step's shape is visible.
      visualMap: { type: "continuous", min: 0, max: 1, dimension: 2, right: 4, top: "center", itemHeight: 140, inRange: { color: RAMP }, text: ["peak", "0"], calculable: false },
      series: [{ type: "heatmap", data: cells, progressive: 5000 }],
    },
    { notMerge: true },
  );
}
