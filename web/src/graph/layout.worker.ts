// The layout worker: one typed request in (LayoutRequest), one typed response out.
// Bundled inline (`?worker&inline`) so the report file keeps working from file://.

import { runLayout } from "./layout";
import type { LayoutRequest, LayoutResponse } from "./protocol";

interface WorkerScope {
  onmessage: ((ev: MessageEvent<LayoutRequest>) => void) | null;
  postMessage(msg: LayoutResponse): void;
}

const scope = self as unknown as WorkerScope;

// elk.bundled.js installs its own message dispatcher on worker globals when imported; replace it.
scope.onmessage = (ev) => {
  const req = ev.data;
  if (req?.type !== "layout") return;
  runLayout(req.input).then(
    ({ result, ms }) => scope.postMessage({ type: "layout", id: req.id, result, ms }),
    (err: unknown) => scope.postMessage({ type: "error", id: req.id, message: err instanceof Error ? err.message : String(err) }),
  );
};
