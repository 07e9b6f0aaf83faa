import type { StatSeries } from "../api";
import { formatNumber } from "../lib/format";
import { BASE, PALETTE, type Chart } from "./echarts";

/**
 * Mean with a ±1 std band, and min/max, over steps: the moments behind the histograms (available
 * even where histograms were not recorded). The band is a stacked pair: mean-std (invisible)
 * plus 2*std (filled).
 */
export function drawStatBands(chart: Chart, s: StatSeries): void {
  const f = (name: string): (number | null)[] => s.fields[name] ?? s.steps.map(() => null);
  const mean = f("mean");
  const std = f("std");
  const pts = (vals: (number | null)[]): [number, number | null][] => s.steps.map((x, i) => [x, vals[i] ?? null]);
  const lower = mean.map((m, i) => (m === null || std[i] === null || std[i] === undefined ? null : m - (std[i] as number)));
  const width = std.map((v) => (v === null ? null : 2 * v));
  const color = PALETTE[0] as string;
  chart.setOption(
    {
      ...BASE,
      grid: { left: 64, right: 16, top: 28, bottom: 30 },
      legend: { top: 0, data: ["mean", "± std", "min", "max"] },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v: unknown) => (typeof v === "number" ? formatNumber(v, 4) : "–") },
      xAxis: { type: "value", name: "step", min: "dataMin", max: "dataMax" },
      yAxis: { type: "value", scale: true, axisLabel: { formatter: (v: number) => formatNumber(v, 3) } },
      series: [
        { name: "band-base", type: "line", data: pts(lower), stack: "band", showSymbol: false, lineStyle: { opacity: 0 }, tooltip: { show: false }, silent: true },
        { name: "± std", type: "line", data: pts(width), stack: "band", showSymbol: false, lineStyle: { opacity: 0 }, areaStyle: { color, opacity: 0.18 }, itemStyle: { color }, tooltip: { show: false } },
        { name: "mean", type: "line", data: pts(mean), showSymbol: false, lineStyle: { width: 1.5 }, itemStyle: { color } },
        { name: "min", type: "line", data: pts(f("min")), showSymbol: false, lineStyle: { width: 1, type: "dashed" }, itemStyle: { color: PALETTE[1] } },
        { name: "max", type: "line", data: pts(f("max")), showSymbol: false, lineStyle: { width: 1, type: "dashed" }, itemStyle: { color: PALETTE[5] } },
      ],
    },
    { notMerge: true },
  );
}
