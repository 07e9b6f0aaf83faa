import "./styles.css";
import { createApi } from "./api";
import { App } from "./app";
import { chartOf } from "./charts/echarts";
import { ALL_VIEWS } from "./views";

// Read-only hook for tests and debugging: the chart drawn in an element, to map its pixels
// back to data values (`deepscope.chartOf(el).convertFromPixel(...)`).
(window as unknown as { deepscope: unknown }).deepscope = { chartOf };

const root = document.getElementById("app");
if (root) void new App(root, createApi(), ALL_VIEWS).start();
