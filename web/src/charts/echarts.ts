// ECharts with only the parts the views use (tree-shaken), canvas renderer.
import { BarChart, CustomChart, HeatmapChart, LineChart, ParallelChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  MarkLineComponent,
  ParallelComponent,
  TitleComponent,
  TooltipComponent,
  VisualMapComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer, SVGRenderer } from "echarts/renderers";
import { addExportBar, echartsExport } from "./export";

echarts.use([
  LineChart,
  BarChart,
  HeatmapChart,
  ScatterChart,
  CustomChart,
  ParallelChart,
  GridComponent,
  TooltipComponent,
  DataZoomComponent,
  LegendComponent,
  VisualMapComponent,
  MarkAreaComponent,
  MarkLineComponent,
  ParallelComponent,
  TitleComponent,
  CanvasRenderer,
  SVGRenderer, // SVG export only: charts draw on canvas
]);

export type Chart = echarts.ECharts;
export type ChartOption = echarts.EChartsCoreOption;
export { echarts };

/** Run colours, in the order runs are compared (colour-blind friendly, Okabe-Ito based). */
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

/** Sequential colour ramp for heatmaps (viridis stops). */
export const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

const charts = new WeakMap<HTMLElement, Chart>();

/** The chart drawn in `host` (tests read drawn values back with convertFromPixel). */
export function chartOf(host: Element): Chart | undefined {
  return charts.get(host as HTMLElement);
}

/**
 * Create a chart in `host` (which gets the `chart` class and a fixed height from CSS), resized
 * with its box and disposed by `dispose` (pass the view's `onDispose`). A PNG / SVG export bar
 * goes in front of the host (file named after `name`, else the nearest card heading).
 */
export function createChart(host: HTMLElement, dispose: (fn: () => void) => void, name?: string): Chart {
  host.classList.add("chart");
  const chart = echarts.init(host, undefined, { renderer: "canvas" });
  charts.set(host, chart);
  addExportBar(host, () => echartsExport(chart, host, name));
  const ro = new ResizeObserver(() => chart.resize());
  ro.observe(host);
  dispose(() => {
    ro.disconnect();
    chart.dispose();
  });
  return chart;
}

/** Options every chart shares: no animation (large series), compact grid. */
export const BASE: ChartOption = {
  animation: false,
  textStyle: { fontFamily: "system-ui, sans-serif", fontSize: 11 },
};
