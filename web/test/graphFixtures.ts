// Synthetic graphs in the stored shape (docs/graph.md) for the graph-model and layout tests.

interface RawNode {
  id: string;
  name: string;
  label: string;
  type: string;
  kind: string;
  parent: string | null;
  depth: number;
  is_container: boolean;
  output_shapes: number[][];
  params: number;
}

function node(id: string, type: string, kind: string, parent: string | null, depth: number, container = false): RawNode {
  return { id, name: id, label: `${id}: ${type}`, type, kind, parent, depth, is_container: container, output_shapes: [[1, 16, 768]], params: kind === "module" ? 1000 : 0 };
}

/**
 * A GPT-2-small-shaped graph: embeddings, 12 blocks of (ln_1, attention with its reshaping ops,
 * residual add, ln_2, MLP, residual add), final norm and head. 12 blocks give ~360 nodes and
 * ~360 edges, the size of the real GPT-2 graph the hook tracer stores (361 / 358).
 */
export function gpt2Like(blocks = 12): { nodes: RawNode[]; edges: { source: string; target: string; shape: number[] }[] } {
  const nodes: RawNode[] = [];
  const edges: { source: string; target: string; shape: number[] }[] = [];
  const e = (source: string, target: string): void => void edges.push({ source, target, shape: [1, 16, 768] });
  nodes.push(node("input:input_ids", "Input", "input", null, 0));
  nodes.push(node("transformer", "GPT2Model", "module", null, 0, true));
  for (const [id, t] of [["transformer.wte", "Embedding"], ["transformer.wpe", "Embedding"]] as const) nodes.push(node(id, t, "module", "transformer", 1));
  nodes.push(node("transformer::add", "add", "op", "transformer", 1));
  nodes.push(node("transformer.drop", "Dropout", "module", "transformer", 1));
  nodes.push(node("transformer.h", "ModuleList", "module", "transformer", 1, true));
  e("input:input_ids", "transformer.wte");
  e("input:input_ids", "transformer.wpe");
  e("transformer.wte", "transformer::add");
  e("transformer.wpe", "transformer::add");
  e("transformer::add", "transformer.drop");
  let prev = "transformer.drop";
  for (let i = 0; i < blocks; i++) {
    const b = `transformer.h.${i}`;
    nodes.push(node(b, "GPT2Block", "module", "transformer.h", 2, true));
    const attn = `${b}.attn`;
    const mlp = `${b}.mlp`;
    nodes.push(node(`${b}.ln_1`, "LayerNorm", "module", b, 3));
    nodes.push(node(attn, "GPT2Attention", "module", b, 3, true));
    const chain = [`${attn}.c_attn`, `${attn}::split`];
    nodes.push(node(`${attn}.c_attn`, "Conv1D", "module", attn, 4));
    nodes.push(node(`${attn}::split`, "split", "op", attn, 4));
    const heads: string[] = [];
    for (let h = 0; h < 3; h++) {
      const v = `${attn}::view_${h}`;
      const t = `${attn}::transpose_${h}`;
      nodes.push(node(v, "view", "op", attn, 4), node(t, "transpose", "op", attn, 4));
      e(`${attn}::split`, v);
      e(v, t);
      heads.push(t);
    }
    nodes.push(node(`${attn}::sdpa`, "scaled_dot_product_attention", "op", attn, 4));
    // keys and values pass through a cache concatenation, as in the traced model
    heads.forEach((t, h) => {
      if (h === 0) return e(t, `${attn}::sdpa`);
      const cat = `${attn}::cat_${h}`;
      nodes.push(node(cat, "cat", "op", attn, 4));
      e(t, cat);
      e(cat, `${attn}::sdpa`);
    });
    const tail = [`${attn}::transpose_3`, `${attn}::contiguous`, `${attn}::reshape`, `${attn}::reshape_1`, `${attn}.c_proj`, `${attn}.resid_dropout`];
    tail.slice(0, 4).forEach((id, k) => nodes.push(node(id, ["transpose", "contiguous", "reshape", "reshape"][k] as string, "op", attn, 4)));
    nodes.push(node(tail[4] as string, "Conv1D", "module", attn, 4), node(tail[5] as string, "Dropout", "module", attn, 4));
    nodes.push(node(`${attn}.attn_dropout`, "Dropout", "module", attn, 4));
    e(prev, `${b}.ln_1`);
    e(`${b}.ln_1`, chain[0] as string);
    e(chain[0] as string, chain[1] as string);
    e(`${attn}::sdpa`, tail[0] as string);
    for (let k = 0; k < tail.length - 1; k++) e(tail[k] as string, tail[k + 1] as string);
    nodes.push(node(`${b}::add`, "add", "op", b, 3));
    e(tail[5] as string, `${b}::add`);
    e(prev, `${b}::add`);
    nodes.push(node(`${b}.ln_2`, "LayerNorm", "module", b, 3));
    nodes.push(node(mlp, "GPT2MLP", "module", b, 3, true));
    const m = [`${mlp}.c_fc`, `${mlp}.act`, `${mlp}.c_proj`, `${mlp}.dropout`];
    const mt = ["Conv1D", "NewGELUActivation", "Conv1D", "Dropout"];
    m.forEach((id, k) => nodes.push(node(id, mt[k] as string, "module", mlp, 4)));
    nodes.push(node(`${b}::add_1`, "add", "op", b, 3));
    e(`${b}::add`, `${b}.ln_2`);
    e(`${b}.ln_2`, m[0] as string);
    for (let k = 0; k < m.length - 1; k++) e(m[k] as string, m[k + 1] as string);
    e(m[3] as string, `${b}::add_1`);
    e(`${b}::add`, `${b}::add_1`);
    prev = `${b}::add_1`;
  }
  nodes.push(node("transformer.ln_f", "LayerNorm", "module", "transformer", 1));
  nodes.push(node("lm_head", "Linear", "module", null, 0));
  nodes.push(node("output", "Output", "output", null, 0));
  e(prev, "transformer.ln_f");
  e("transformer.ln_f", "lm_head");
  e("lm_head", "output");
  return { nodes, edges };
}

/** The demo CNN's stored graph (fx tracer). */
export function demoCnn(): { format: string; nodes: RawNode[]; edges: { source: string; target: string; shape: number[] }[] } {
  const nodes = [
    node("input:x", "Input", "input", null, 0),
    node("features", "Sequential", "module", null, 0, true),
    node("features.0", "Conv2d", "module", "features", 1),
    node("features.1", "ReLU", "module", "features", 1),
    node("features.2", "Conv2d", "module", "features", 1),
    node("::flatten", "flatten", "op", null, 0),
    node("fc1", "Linear", "module", null, 0),
    node("output", "Output", "output", null, 0),
  ];
  const ids = ["input:x", "features.0", "features.1", "features.2", "::flatten", "fc1", "output"];
  const edges = ids.slice(1).map((t, i) => ({ source: ids[i] as string, target: t, shape: [64, 16, 8, 8] }));
  return { format: "deepscope.graph/1", nodes, edges };
}
