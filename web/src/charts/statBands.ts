import type { StatSeries } from "../api";
import { formatNumber } from "../lib/format";
import { BASE, PALETTE, type Chart } from "./echarts";

export interface BandRun {
  name: string;
  color: string;
  series: StatSeries;
}

/** mean - std and 2 std per step (null where either moment is missing). */
export function bandParts(mean: readonly (number | null)[], std: readonly (number | null)[]): { lower: (number | null)[]; width: (number | null)[] } {
  const ok = (i: number): boolean => mean[i] !== null && mean[i] !== undefined && std[i] !== null && std[i] !== undefined;
  return {
    lower: mean.map((m, i) => (ok(i) ? (m as number) - (std[i] as number) : null)),
    width: std.map((s, i) => (ok(i) ? 2 * (s as number) : null)),
  };
}

/**
 * Mean with a ±1 std band, and min/max, over steps: the moments behind the histograms (available
 * even where histograms were not recorded), one colour per run when runs are compared. The band
 * is an invisible mean - std line with 2 std stacked on it; `stackStrategy: "all"` stacks onto
 * negative values too (ECharts' default stacks each sign separately, which drew the band from 0
 * to 2 std whenever mean - std < 0).
 */
export function drawStatBands(chart: Chart, runs: readonly BandRun[]): void {
  const series: object[] = [];
  const legend: string[] = [];
  const many = runs.length > 1;
  runs.forEach((run, k) => {
    const s = run.series;
    const f = (name: string): (number | null)[] => s.fields[name] ?? s.steps.map(() => null);
    const pts = (vals: (number | null)[]): [number, number | null][] => s.steps.map((x, i) => [x, vals[i] ?? null]);
    const { lower, width } = bandParts(f("mean"), f("std"));
    const label = (what: string): string => (many ? `${run.name}: ${what}` : what);
    const stack = `band-${k}`;
    legend.push(label("mean"), label("± std"), label("min"), label("max"));
    series.push(
      { name: `${stack}-base`, type: "line", data: pts(lower), stack, stackStrategy: "all", showSymbol: false, lineStyle: { opacity: 0 }, tooltip: { show: false }, silent: true },
      { name: label("± std"), type: "line", data: pts(width), stack, stackStrategy: "all", showSymbol: false, lineStyle: { opacity: 0 }, areaStyle: { color: run.color, opacity: 0.18 }, itemStyle: { color: run.color }, tooltip: { show: false } },
      { name: label("mean"), type: "line", data: pts(f("mean")), showSymbol: false, lineStyle: { width: 1.5 }, itemStyle: { color: run.color } },
      { name: label("min"), type: "line", data: pts(f("min")), showSymbol: false, lineStyle: { width: 1, type: "dashed" }, itemStyle: { color: many ? run.color : PALETTE[1] } },
      { name: label("max"), type: "line", data: pts(f("max")), showSymbol: false, lineStyle: { width: 1, type: "dotted" }, itemStyle: { color: many ? run.color : PALETTE[5] } },
    );
  });
  chart.setOption(
    {
      ...BASE,
      grid: { left: 64, right: 16, top: many ? 48 : 28, bottom: 30 },
      legend: { top: 0, type: "scroll", data: legend },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v: unknown) => (typeof v === "number" ? formatNumber(v, 4) : "–") },
      xAxis: { type: "value", name: "step", min: "dataMin", max: "dataMax" },
      yAxis: { type: "value", scale: true, axisLabel: { formatter: (v: number) => formatNumber(v, 3) } },
      series,
    },
    { notMerge: true },
  );
}
