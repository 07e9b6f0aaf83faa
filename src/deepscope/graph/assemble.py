"""Turn what a tracer saw (leaf-level calls and dataflow) into a :class:`Graph`.

Both tracers (torch.fx and hooks) fill a :class:`RawTrace`; this module adds the full module tree
(so modules that were never called still appear, and totals are exact), parameter counts,
container aggregates and the pruning of bookkeeping ops.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch

from deepscope.graph.model import Edge, Graph, Node, Totals
from deepscope.graph.tensors import numel


@dataclass
class RawNode:
    """A leaf-level node as seen by a tracer (module calls merged per module)."""

    id: str
    name: str
    kind: str
    type: str
    parent: str | None
    input_shapes: list[list[int]] = field(default_factory=list)
    output_shapes: list[list[int]] = field(default_factory=list)
    dtype: str | None = None
    flops: int = 0
    activation_bytes: int = 0
    calls: int = 1
    anchored: bool = False  # reads parameters or buffers directly


@dataclass
class RawTrace:
    """Everything a tracer records; ``module_io`` holds container shapes seen by hooks."""

    tracer: str
    nodes: dict[str, RawNode] = field(default_factory=dict)
    edges: dict[tuple[str, str], tuple[list[int] | None, str | None]] = field(default_factory=dict)
    module_io: dict[str, tuple[list[list[int]], list[list[int]], str | None, int]] = field(
        default_factory=dict
    )
    flops_total: int = 0
    notes: list[str] = field(default_factory=list)

    def add_edge(
        self, source: str, target: str, shape: list[int] | None, dtype: str | None
    ) -> None:
        """Record a dataflow edge once (repeat uses such as ``x * x`` collapse)."""
        self.edges.setdefault((source, target), (shape, dtype))


def assemble(model: torch.nn.Module, raw: RawTrace) -> Graph:
    """Build the graph: full module tree, parameters, aggregates, pruned ops, totals, notes."""
    modules = {name: m for name, m in model.named_modules() if name}
    notes = list(raw.notes)
    keep = _live_nodes(raw)
    dropped = sum(1 for n in raw.nodes.values() if n.kind == "op" and n.id not in keep)
    if dropped:
        notes.append(
            f"{dropped} ops that carry no data from the inputs to the outputs (shape and mask "
            "bookkeeping) are not shown"
        )
    agg_flops, agg_bytes = _aggregate(raw, modules)
    nodes = [_io_node(n) for n in raw.nodes.values() if n.kind == "input"]
    nodes += _module_nodes(model, modules, raw, agg_flops, agg_bytes)
    depth = {n.id: n.depth for n in nodes}
    for n in raw.nodes.values():
        if n.kind == "op" and n.id in keep:
            d = depth[n.parent] + 1 if n.parent in depth else 0
            nodes.append(_op_node(n, d))
    nodes = _execution_order(nodes, raw)
    nodes += [_io_node(n) for n in raw.nodes.values() if n.kind == "output"]
    edges = [
        Edge(s, t, shape, dtype)
        for (s, t), (shape, dtype) in raw.edges.items()
        if s in keep and t in keep
    ]
    totals, shared_notes = _totals(model, raw)
    repeated = [f"{n.id} ({n.calls}x)" for n in nodes if n.kind == "module" and n.calls > 1]
    if repeated:
        shown = ", ".join(repeated[:5]) + (", ..." if len(repeated) > 5 else "")
        notes.append(
            f"modules called more than once show as one node with FLOPs summed over calls: {shown}"
        )
    uncalled = [
        n.id for n in nodes if n.kind == "module" and not n.is_container and n.calls == 0
    ]
    if uncalled and raw.tracer in ("fx", "hook"):
        shown = ", ".join(uncalled[:5]) + (", ..." if len(uncalled) > 5 else "")
        notes.append(
            f"{len(uncalled)} leaf modules were not called in the forward pass (unused, or their "
            f"weights are used directly by a parent, as MultiheadAttention does): {shown}"
        )
    return Graph(type(model).__name__, raw.tracer, nodes, edges, totals, notes + shared_notes)


def _live_nodes(raw: RawTrace) -> set[str]:
    """Non-op nodes, plus ops that lie downstream of data (inputs, modules, parameters) and
    upstream of an output or a module. Mask and position-id bookkeeping falls out.
    """
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for s, t in raw.edges:
        succ[s].append(t)
        pred[t].append(s)
    sources = [n.id for n in raw.nodes.values() if n.kind != "op" or n.anchored]
    sinks = [n.id for n in raw.nodes.values() if n.kind in ("module", "output")]
    down, up = _reach(sources, succ), _reach(sinks, pred)
    return {n.id for n in raw.nodes.values() if n.kind != "op" or (n.id in down and n.id in up)}


def _execution_order(nodes: list[Node], raw: RawTrace) -> list[Node]:
    """Inputs, then the tree depth-first with siblings in the order they first ran (modules
    never called keep their definition order, after the rest), so tables read top to bottom.
    """
    rank = {node_id: i for i, node_id in enumerate(raw.nodes)}
    by_id = {n.id: n for n in nodes}
    first: dict[str, int] = {}
    for n in nodes:
        r = rank.get(n.id)
        if r is None or n.kind == "input":
            continue
        node: Node | None = n
        while node is not None:
            first[node.id] = min(first.get(node.id, r), r)
            node = by_id.get(node.parent) if node.parent else None
    kids: dict[str | None, list[Node]] = defaultdict(list)
    for n in nodes:
        if n.kind != "input":
            kids[n.parent].append(n)
    out = [n for n in nodes if n.kind == "input"]
    stack = [None]
    order: list[str | None] = []
    while stack:
        parent = stack.pop()
        order.append(parent)
        children = sorted(kids.get(parent, []), key=lambda c: first.get(c.id, len(rank)))
        stack.extend(c.id for c in reversed(children))
    out += [by_id[i] for i in order if i is not None]
    return out


def _reach(start: list[str], nxt: dict[str, list[str]]) -> set[str]:
    seen = set(start)
    stack = list(start)
    while stack:
        for m in nxt.get(stack.pop(), ()):
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return seen


def _ancestors(name: str | None, modules: dict[str, torch.nn.Module]) -> list[str]:
    """Qualified names of ``name`` and its containers (``a.b.c`` -> ``a.b.c``, ``a.b``, ``a``)."""
    out = []
    while name:
        if name in modules:
            out.append(name)
        name = name.rpartition(".")[0]
    return out


def _aggregate(
    raw: RawTrace, modules: dict[str, torch.nn.Module]
) -> tuple[dict[str, int], dict[str, int]]:
    """FLOPs and activation bytes of every module: the sum over its leaf-level descendants."""
    flops: dict[str, int] = defaultdict(int)
    nbytes: dict[str, int] = defaultdict(int)
    for n in raw.nodes.values():
        if n.kind not in ("module", "op"):
            continue
        owner = n.id if n.kind == "module" else n.parent
        for a in _ancestors(owner, modules):
            flops[a] += n.flops
            nbytes[a] += n.activation_bytes
    return flops, nbytes


def _module_nodes(
    model: torch.nn.Module,
    modules: dict[str, torch.nn.Module],
    raw: RawTrace,
    flops: dict[str, int],
    nbytes: dict[str, int],
) -> list[Node]:
    boundary = _boundary_shapes(raw, modules)
    nodes = []
    for name, m in modules.items():
        parent = name.rpartition(".")[0] or None
        while parent is not None and parent not in modules:
            parent = parent.rpartition(".")[0] or None
        params = list(m.parameters())
        node = Node(
            id=name,
            name=name,
            label=f"{name.rpartition('.')[2]}: {type(m).__name__}",
            type=type(m).__name__,
            kind="module",
            parent=parent,
            depth=name.count("."),
            is_container=next(m.children(), None) is not None,
            params=sum(numel(p) for p in params),
            trainable_params=sum(numel(p) for p in params if p.requires_grad),
            flops=flops.get(name, 0),
            activation_bytes=nbytes.get(name, 0),
        )
        seen = raw.nodes.get(name)
        if seen is not None and seen.kind == "module":
            node.input_shapes, node.output_shapes = seen.input_shapes, seen.output_shapes
            node.dtype, node.calls = seen.dtype, seen.calls
        elif name in raw.module_io:
            node.input_shapes, node.output_shapes, node.dtype, node.calls = raw.module_io[name]
        elif name in boundary:
            node.input_shapes, node.output_shapes, node.dtype = boundary[name]
            node.calls = 1
        nodes.append(node)
    return nodes


def _boundary_shapes(
    raw: RawTrace, modules: dict[str, torch.nn.Module]
) -> dict[str, tuple[list[list[int]], list[list[int]], str | None]]:
    """Container inputs/outputs from the edges crossing its boundary (fx has no container calls)."""
    owner: dict[str, set[str]] = {}
    for n in raw.nodes.values():
        base = n.id if n.kind == "module" else n.parent if n.kind == "op" else None
        owner[n.id] = set(_ancestors(base, modules))
    ins: dict[str, list[list[int]]] = defaultdict(list)
    outs: dict[str, list[list[int]]] = defaultdict(list)
    dtypes: dict[str, str | None] = {}
    seen_in: set[tuple[str, str]] = set()
    seen_out: set[tuple[str, str]] = set()
    for (s, t), (shape, dtype) in raw.edges.items():
        a, b = owner.get(s, set()), owner.get(t, set())
        for c in b - a:
            if shape is not None and (c, s) not in seen_in:
                seen_in.add((c, s))
                ins[c].append(shape)
        for c in a - b:
            if shape is not None and (c, s) not in seen_out:
                seen_out.add((c, s))
                outs[c].append(shape)
                dtypes.setdefault(c, dtype)
    return {c: (ins[c], outs[c], dtypes.get(c)) for c in set(ins) | set(outs)}


def _op_node(n: RawNode, depth: int) -> Node:
    return Node(
        id=n.id,
        name=n.name,
        label=n.name,
        type=n.type,
        kind="op",
        parent=n.parent,
        depth=depth,
        input_shapes=n.input_shapes,
        output_shapes=n.output_shapes,
        dtype=n.dtype,
        flops=n.flops,
        activation_bytes=n.activation_bytes,
        calls=n.calls,
    )


def _io_node(n: RawNode) -> Node:
    return Node(
        id=n.id,
        name=n.name,
        label=n.name,
        type=n.type,
        kind=n.kind,
        input_shapes=n.input_shapes,
        output_shapes=n.output_shapes,
        dtype=n.dtype,
        calls=n.calls,
    )


def _totals(model: torch.nn.Module, raw: RawTrace) -> tuple[Totals, list[str]]:
    """Exact totals from ``model.parameters()`` plus a note per tensor registered twice."""
    params = list(model.parameters())
    names: dict[int, list[str]] = defaultdict(list)
    for name, p in model.named_parameters(remove_duplicate=False):
        names[id(p)].append(name)
    notes = []
    shared = 0
    for p in params:
        if len(names[id(p)]) > 1:
            shared += numel(p)
            first, *others = names[id(p)]
            notes.append(
                f"parameter {first} is shared with {', '.join(others)} "
                f"({numel(p):,} parameters, counted once)"
            )
    leaf_bytes = sum(n.activation_bytes for n in raw.nodes.values() if n.kind in ("module", "op"))
    totals = Totals(
        params=sum(numel(p) for p in params),
        trainable_params=sum(numel(p) for p in params if p.requires_grad),
        flops=raw.flops_total,
        activation_bytes=leaf_bytes,
        shared_params=shared,
    )
    return totals, notes
