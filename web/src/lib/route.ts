/** Hash routes (so one bundle works from the server and from file://):
 *   #/runs                         the runs table
 *   #/run/<runId>/<viewId>?k=v     a run-scoped view; `runs=a,b` adds runs to compare
 */
export type Route =
  | { name: "runs"; params: URLSearchParams }
  | { name: "run"; runId: string; view: string; params: URLSearchParams };

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const q = raw.indexOf("?");
  const path = q >= 0 ? raw.slice(0, q) : raw;
  const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : "");
  const parts = path.split("/").filter((p) => p.length > 0).map(safeDecode);
  if (parts[0] === "run" && parts[1]) {
    return { name: "run", runId: parts[1], view: parts[2] ?? "overview", params };
  }
  return { name: "runs", params };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function formatRoute(r: Route): string {
  const qs = r.params.toString();
  const path = r.name === "runs" ? "#/runs" : `#/run/${encodeURIComponent(r.runId)}/${encodeURIComponent(r.view)}`;
  return qs ? `${path}?${qs}` : path;
}

export function runHref(runId: string, view: string, params: Record<string, string | number | null | undefined> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") p.set(k, String(v));
  return formatRoute({ name: "run", runId, view, params: p });
}

/** Runs to show together: the route's run first, then `runs=` (deduplicated, order kept). */
export function routeRunIds(r: Route): string[] {
  if (r.name !== "run") return [];
  const extra = (r.params.get("runs") ?? "").split(",").filter((s) => s.length > 0);
  return [...new Set([r.runId, ...extra])];
}
