// A layer chooser that stays usable with hundreds of layers: options grouped by block
// (`transformer.h.3` -> one <optgroup>) and a filter box that narrows the list as you type.
import { el } from "../dom";
import { blockOf } from "../lib/layerRows";

export function layerPicker(label: string, names: readonly string[], value: string, onChange: (name: string) => void, testid: string): HTMLElement {
  const sel = el("select", { attrs: { "data-testid": testid, "aria-label": label }, on: { change: () => onChange(sel.value) } });
  const filter = el("input", {
    attrs: { type: "search", placeholder: "filter layers", "data-testid": `${testid}-filter`, "aria-label": `${label} filter` },
    on: { input: () => fill(filter.value) },
  });
  filter.style.minWidth = "120px";
  function fill(query: string): void {
    const q = query.trim().toLowerCase();
    const keep = names.filter((n) => !q || n.toLowerCase().includes(q));
    const current = sel.value || value;
    sel.replaceChildren();
    const groups = new Map<string, string[]>();
    for (const n of keep) {
      const b = blockOf(n) ?? "";
      groups.set(b, [...(groups.get(b) ?? []), n]);
    }
    const grouped = names.length > 40;
    for (const [block, list] of groups) {
      const opts = list.map((n) => el("option", { attrs: { value: n } }, n));
      if (grouped && block) sel.appendChild(el("optgroup", { attrs: { label: block } }, ...opts));
      else sel.append(...opts);
    }
    if (keep.includes(current)) sel.value = current;
    else if (keep.length && q) {
      sel.value = keep[0] as string;
      onChange(sel.value);
    }
  }
  fill("");
  sel.value = value;
  return el("label", "control", el("span", null, label), names.length > 40 ? filter : null, sel);
}
