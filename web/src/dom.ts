// DOM helpers. Data never goes through innerHTML: strings become text nodes, attributes are set
// one by one and event handlers only through `on`. Views build their DOM with these.

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined>;
type Handlers = { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void };

export interface ElOptions {
  class?: string;
  attrs?: Attrs;
  on?: Handlers;
  title?: string;
}

/** Create an element; string children are text nodes (safe for any user string). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  opts: ElOptions | string | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  const o: ElOptions = typeof opts === "string" ? { class: opts } : (opts ?? {});
  if (o.class) node.className = o.class;
  if (o.title !== undefined) node.title = o.title;
  for (const [k, v] of Object.entries(o.attrs ?? {})) {
    if (/^on/i.test(k)) throw new Error(`event attribute ${k} not allowed; use on:`);
    if (v === null || v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const [ev, fn] of Object.entries(o.on ?? {})) node.addEventListener(ev, fn as EventListener);
  append(node, ...children);
  return node;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    parent.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
}

export function clear(node: Node): void {
  while (node.firstChild) node.removeChild(node.firstChild);
}

/** A link inside the app (hash route). */
export function link(href: string, ...children: Child[]): HTMLAnchorElement {
  return el("a", { attrs: { href } }, ...children);
}

/** The placeholder of a view whose data was not recorded, with how to enable it. */
export function notRecorded(what: string, hint?: string): HTMLElement {
  return el(
    "div",
    { class: "placeholder", attrs: { "data-testid": "not-recorded" } },
    el("strong", null, `${what}: not recorded`),
    hint ? el("span", null, ` (enable with `, el("code", null, hint), ")") : null,
  );
}

export function errorBox(message: string): HTMLElement {
  return el("div", { class: "error-box", attrs: { role: "alert" } }, message);
}

export function loading(): HTMLElement {
  return el("div", "loading", "Loading…");
}

export interface Option {
  value: string;
  label: string;
}

/** A labelled <select>; `onChange` gets the chosen value. */
export function select(label: string, options: readonly Option[], value: string, onChange: (v: string) => void, testid?: string): HTMLLabelElement {
  const s = el("select", { attrs: { "data-testid": testid }, on: { change: () => onChange(s.value) } });
  for (const o of options) s.appendChild(el("option", { attrs: { value: o.value } }, o.label));
  s.value = value;
  return el("label", "control", el("span", null, label), s);
}

/** A labelled range input; `onInput` fires while dragging. */
export function slider(
  label: string,
  range: { min: number; max: number; step: number; value: number },
  onInput: (v: number) => void,
  show: (v: number) => string = String,
  testid?: string,
): HTMLLabelElement {
  const out = el("output", null, show(range.value));
  const input = el("input", {
    attrs: { type: "range", min: range.min, max: range.max, step: range.step, value: range.value, "data-testid": testid },
    on: {
      input: () => {
        const v = Number(input.value);
        out.textContent = show(v);
        onInput(v);
      },
    },
  });
  return el("label", "control", el("span", null, label), input, out);
}

export function checkbox(label: string, checked: boolean, onChange: (v: boolean) => void, testid?: string): HTMLLabelElement {
  const input = el("input", { attrs: { type: "checkbox", "data-testid": testid }, on: { change: () => onChange(input.checked) } });
  input.checked = checked;
  return el("label", "control checkbox", input, el("span", null, label));
}

export function toolbar(...children: Child[]): HTMLElement {
  return el("div", "toolbar", ...children);
}

export function severityBadge(severity: string): HTMLElement {
  return el("span", { class: `badge sev-${/^(info|warning|error)$/.test(severity) ? severity : "info"}` }, severity);
}
