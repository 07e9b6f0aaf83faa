/** Flatten nested config into dotted keys ({"optim": {"lr": 1}} -> {"optim.lr": 1}). */
export function flattenConfig(config: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v)) Object.assign(out, flattenConfig(v as Record<string, unknown>, key));
    else out[key] = v;
  }
  return out;
}

/** Compare two cells: numbers numerically, missing values last, the rest as text. */
export function compareCells(a: unknown, b: unknown): number {
  const missing = (v: unknown): boolean => v === null || v === undefined || v === "";
  if (missing(a) || missing(b)) return missing(a) === missing(b) ? 0 : missing(a) ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

export function sortRows<T>(rows: readonly T[], key: (row: T) => unknown, descending: boolean): T[] {
  const sign = descending ? -1 : 1;
  // Stable: ties keep their input order.
  return rows
    .map((row, i) => ({ row, i }))
    .sort((x, y) => {
      const ka = key(x.row);
      const kb = key(y.row);
      const missing = (v: unknown): boolean => v === null || v === undefined || v === "";
      if (missing(ka) !== missing(kb)) return missing(ka) ? 1 : -1; // missing last either way
      return sign * compareCells(ka, kb) || x.i - y.i;
    })
    .map((x) => x.row);
}

/** Case-insensitive match of every whitespace-separated word against any of the row's texts. */
export function matchesFilter(texts: readonly string[], query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  const hay = texts.join("\u0000").toLowerCase();
  return words.every((w) => hay.includes(w));
}
