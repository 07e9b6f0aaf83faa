// The layout worker: one typed request in (LayoutRequest), one typed response out.
// Bundled inline (`?worker&inline`) so the report file keeps working from file://.

import { runLayout } from "./layout";
import type { LayoutRequest, LayoutResponse } from "./protocol";

interface WorkerScope {
  onmessage: ((ev: MessageEvent) => void) | null;
  addEventListener(type: "message", fn: (ev: MessageEvent<LayoutRequest>) => void): void;
  postMessage(msg: LayoutResponse): void;
}

const scope = self as unknown as WorkerScope;

// elk.bundled.js assigns its own message dispatcher to `self.onmessage` on worker globals (at
// import and again when the first ELK instance starts); it must not answer our requests.
scope.onmessage = null;
scope.addEventListener("message", (ev) => {
  const req = ev.data;
  if (req?.type !== "layout") return;
  runLayout(req.input).then(
    ({ result, ms }) => scope.postMessage({ type: "layout", id: req.id, result, ms }),
    (err: unknown) => scope.postMessage({ type: "error", id: req.id, message: err instanceof Error ? err.message : String(err) }),
  ).finally(() => {
    scope.onmessage = null;
  });
});
