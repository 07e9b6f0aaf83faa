// Parallel coordinates of runs: one axis per config value that differs between runs, then the
// chosen metric; one line per run, coloured by the metric (what W&B and TensorBoard's HParams
// dashboards show). Numeric config values get a value axis (log when they span > 2 decades:
// learning rates), others a category axis.
import { formatNumber } from "../lib/format";
import { BASE, type Chart } from "./echarts";

export interface ParallelRun {
  name: string;
  config: Record<string, unknown>;
  metric: number | null;
}

type Axis = { dim: number; name: string; type: "value" | "log" | "category"; data?: string[] };

export function parallelAxes(runs: readonly ParallelRun[], keys: readonly string[]): Axis[] {
  return keys.map((key, dim) => {
    const vals = runs.map((r) => r.config[key]);
    const nums = vals.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    if (nums.length === vals.filter((v) => v !== undefined && v !== null).length && nums.length > 0) {
      const pos = nums.every((v) => v > 0);
      const wide = pos && Math.max(...nums) / Math.min(...nums) > 100;
      return { dim, name: key, type: wide ? "log" : "value" };
    }
    const cats = [...new Set(vals.map((v) => (v === undefined || v === null ? "–" : typeof v === "string" ? v : JSON.stringify(v))))].sort();
    return { dim, name: key, type: "category", data: cats };
  });
}

export function drawParallel(chart: Chart, runs: readonly ParallelRun[], keys: readonly string[], metricName: string): void {
  const axes = parallelAxes(runs, keys);
  const metricDim = axes.length;
  const cell = (a: Axis, v: unknown): number | string | null => {
    if (a.type === "category") return v === undefined || v === null ? "–" : typeof v === "string" ? v : JSON.stringify(v);
    return typeof v === "number" && Number.isFinite(v) ? v : null;
  };
  const data = runs.map((r) => ({ name: r.name, value: [...axes.map((a) => cell(a, r.config[a.name])), r.metric] }));
  const known = runs.map((r) => r.metric).filter((v): v is number => v !== null && Number.isFinite(v));
  const lo = known.length ? Math.min(...known) : 0;
  const hi = known.length ? Math.max(...known) : 1;
  chart.setOption({
    ...BASE,
    parallel: { left: 60, right: 110, top: 40, bottom: 30, parallelAxisDefault: { nameLocation: "end", nameGap: 14, nameTextStyle: { fontSize: 11 }, axisLabel: { fontSize: 10, formatter: (v: number | string) => (typeof v === "number" ? formatNumber(v, 3) : String(v).slice(0, 16)) } } },
    parallelAxis: [...axes.map((a) => ({ dim: a.dim, name: a.name, type: a.type, data: a.data })), { dim: metricDim, name: metricName, type: "value", scale: true }],
    visualMap: { type: "continuous", min: lo, max: hi === lo ? lo + 1 : hi, dimension: metricDim, right: 4, top: "middle", itemHeight: 120, calculable: false, inRange: { color: ["#440154", "#21918c", "#fde725"] }, text: [formatNumber(hi, 3), formatNumber(lo, 3)], textStyle: { fontSize: 10 } },
    tooltip: { renderMode: "richText", formatter: (p: { name: string; value: unknown[] }) => `${p.name}\n${metricName}: ${formatNumber(p.value[metricDim] as number, 4)}` },
    series: [{ type: "parallel", lineStyle: { width: 2, opacity: 0.85 }, emphasis: { lineStyle: { width: 4 } }, data }],
  }, { notMerge: true });
}
