import type { StatMatrix } from "../api";
import { formatNumber } from "../lib/format";
import { toHeatmap } from "../lib/heatmap";
import { BASE, createChart, RAMP, type Chart } from "./echarts";

/** Layers (rows, forward order top-down) x steps heatmap of one statistic. */
export function drawStatHeatmap(
  host: HTMLElement,
  m: StatMatrix,
  opts: { log: boolean; label: string; highlight?: string | null },
  onDispose: (fn: () => void) => void,
  existing?: Chart,
): Chart {
  const chart = existing ?? createChart(host, onDispose);
  host.style.height = `${Math.min(900, Math.max(220, 18 * m.layers.length + 90))}px`;
  chart.resize();
  const hm = toHeatmap(m, opts.log);
  const show = (v: number): string => formatNumber(hm.log ? Math.pow(10, v) : v, 4);
  chart.setOption(
    {
      ...BASE,
      grid: { left: 8, right: 96, top: 12, bottom: 40, containLabel: true },
      tooltip: {
        formatter: (p: { value: [number, number, number] }) => {
          const [si, li, v] = p.value;
          // Plain text tooltip (renderMode richText): layer names are never parsed as HTML.
          return `${m.layers[li] ?? ""}\nstep ${m.steps[si] ?? ""}\n${opts.label}: ${show(v)}`;
        },
        renderMode: "richText",
      },
      xAxis: { type: "category", data: m.steps.map(String), name: "step", nameLocation: "middle", nameGap: 26, axisLabel: { hideOverlap: true } },
      yAxis: {
        type: "category",
        data: m.layers,
        inverse: true,
        axisLabel: {
          width: 180,
          overflow: "truncate",
          fontWeight: (v: string) => (v === opts.highlight ? "bold" : "normal"),
        },
      },
      visualMap: {
        type: "continuous",
        min: hm.min,
        max: hm.max,
        calculable: true,
        orient: "vertical",
        right: 4,
        top: "center",
        itemHeight: Math.min(140, Math.max(60, 18 * m.layers.length - 40)),
        inRange: { color: RAMP },
        formatter: (v: number) => formatNumber(hm.log ? Math.pow(10, v) : v, 2),
      },
      dataZoom: [{ type: "inside", xAxisIndex: 0 }],
      series: [{ type: "heatmap", data: hm.cells, progressive: 4000, emphasis: { itemStyle: { borderColor: "#000", borderWidth: 1 } } }],
    },
    { notMerge: true },
  );
  return chart;
}
