import { formatNumber } from "../lib/format";
import { BASE, type Chart } from "./echarts";

export interface FlowSeries {
  name: string;
  color: string;
  /** One value per bar (null: not recorded). */
  values: (number | null)[];
}

/**
 * Per-row gradient norms at one step as bars on a log scale, one series per compared run.
 * ECharts draws log-axis bars from 1, so norms below 1 would point down: bars are plotted as
 * decades above a floor half a decade below the smallest norm. A norm of exactly 0 gets a
 * stub bar in the zero colour and says "= 0" in the tooltip (it is not missing).
 */
/** Label every k-th bar so that at most ~48 rotated labels share the axis (ECharts' "auto"
 * spaces labels as if unrotated, and 172 GPT-2 rows then overprint each other). */
const LABEL_EVERY = (n: number): number => Math.max(0, Math.ceil(n / 48) - 1);

export function drawFlow(chart: Chart, labels: string[], series: FlowSeries[], highlight: string | null, zeroColor: string): void {
  const positive = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v) && v > 0);
  const floor = positive.length ? Math.floor(Math.log10(Math.min(...positive)) - 0.5) : 0;
  const show = (d: unknown): string => (typeof d === "number" ? formatNumber(Math.pow(10, d + floor), 4) : "not recorded");
  chart.setOption(
    {
      ...BASE,
      grid: { left: 60, right: 16, top: series.length > 1 ? 30 : 24, bottom: 110 },
      legend: series.length > 1 ? { top: 0, data: series.map((s) => s.name) } : undefined,
      tooltip: {
        trigger: "axis",
        renderMode: "richText",
        formatter: (items: { seriesIndex: number; dataIndex: number; axisValueLabel: string }[]) => {
          const first = items[0];
          if (!first) return "";
          const lines = items.map((it) => {
            const s = series[it.seriesIndex];
            const v = s?.values[it.dataIndex];
            const text = v === null || v === undefined ? "not recorded" : v === 0 ? "= 0 (no gradient)" : formatNumber(v, 4);
            return `${s?.name ?? ""}: ${text}`;
          });
          return [labels[first.dataIndex] ?? "", ...lines].join("\n");
        },
      },
      xAxis: { type: "category", data: labels, axisLabel: { rotate: 45, interval: LABEL_EVERY(labels.length), formatter: (v: string) => (v.length > 22 ? `…${v.slice(-21)}` : v) } },
      yAxis: { type: "value", name: "gradient norm (log)", min: 0, minInterval: 1, axisLabel: { formatter: show } },
      series: series.map((s) => ({
        type: "bar",
        name: s.name,
        itemStyle: { color: s.color },
        data: s.values.map((v, i) => {
          const zero = v === 0;
          const value = v !== null && Number.isFinite(v) && v > 0 ? Math.log10(v) - floor : zero ? 0.08 : null;
          const mark = labels[i] === highlight;
          return { value, itemStyle: { color: zero ? zeroColor : s.color, borderColor: mark ? "#D55E00" : undefined, borderWidth: mark ? 2 : 0 } };
        }),
      })),
    },
    { notMerge: true },
  );
}
