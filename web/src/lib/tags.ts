/** Group scalar tags by the part before their first "/" (TensorBoard's tag groups). */
export function groupTags(tags: Iterable<string>): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const tag of [...new Set(tags)].sort()) {
    const slash = tag.indexOf("/");
    const prefix = slash > 0 ? tag.slice(0, slash) : "(ungrouped)";
    const list = groups.get(prefix) ?? [];
    list.push(tag);
    groups.set(prefix, list);
  }
  return new Map([...groups.entries()].sort(([a], [b]) => (a === "(ungrouped)" ? 1 : b === "(ungrouped)" ? -1 : a.localeCompare(b))));
}
