"""Read an ONNX file into the same :class:`Graph` schema as traced PyTorch models.

Operators become op nodes; the module hierarchy comes from the exporter's name scopes (the
``pkg.torch.onnx.name_scopes`` metadata of the torch.export-based exporter, else the
``/block/conv1/Conv`` node names of the TorchScript exporter); a scope holding exactly one
operator is shown as that module. Floating-point initializers are the parameters; shapes come
from ONNX shape inference.
"""

from __future__ import annotations

import ast
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from deepscope.errors import GraphError, InvalidArgumentError
from deepscope.graph.model import Edge, Graph, Node, Totals

_FLOAT_TYPES = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def load_onnx(path: str | Path) -> Graph:
    """Read an ``.onnx`` file into a :class:`Graph` (``tracer == "onnx"``).

    Raises:
        InvalidArgumentError: no such file. GraphError: the file is not a readable ONNX model.

    Example:
        >>> g = load_onnx("model.onnx")  # doctest: +SKIP
        >>> g.tracer, g.totals.params  # doctest: +SKIP
        ('onnx', 11689512)

    """
    import onnx

    path = Path(path)
    if not path.is_file():
        raise InvalidArgumentError(f"no such file: '{path}'")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as err:  # noqa: BLE001 - protobuf and checker errors vary by version
        reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise GraphError(f"'{path.name}' is not a readable ONNX model ({reason})") from None
    if not proto.graph.node:
        raise GraphError(f"'{path.name}' is not a readable ONNX model (it has no operators)")
    notes = ["FLOPs are counted for Conv, Gemm and MatMul operators only"]
    try:
        proto = onnx.shape_inference.infer_shapes(proto)
    except Exception as err:  # noqa: BLE001 - keep the declared shapes
        notes.append(f"ONNX shape inference failed ({type(err).__name__}); declared shapes only")
    return _OnnxBuilder(proto, path.stem, notes).build()


class _OnnxBuilder:
    """One pass over the ONNX graph; see :func:`load_onnx`."""

    def __init__(self, proto: Any, stem: str, notes: list[str]) -> None:
        self.graph = proto.graph
        self.model = proto.graph.name or stem
        self.notes = notes
        self.values: dict[str, tuple[list[int], str | None]] = {}
        for vi in [*self.graph.input, *self.graph.output, *self.graph.value_info]:
            self.values[vi.name] = _value_shape(vi)
        self.init = {t.name: t for t in self.graph.initializer}
        for t in self.graph.initializer:
            self.values.setdefault(t.name, ([int(d) for d in t.dims], _dtype(t.data_type)))

    def build(self) -> Graph:
        nodes: list[Node] = []
        edges: list[Edge] = []
        producer: dict[str, str] = {}
        for vi in self.graph.input:
            if vi.name in self.init:
                continue
            shape, dtype = self.values[vi.name]
            nid = f"input:{vi.name}"
            nodes.append(Node(nid, nid, nid, "Input", "input", output_shapes=[shape], dtype=dtype))
            producer[vi.name] = nid
        scopes = [self._scope(n) for n in self.graph.node]
        named = any(
            p.key == "pkg.torch.onnx.name_scopes" for n in self.graph.node for p in n.metadata_props
        )
        if not named:  # TorchScript exporter: node names only, repeated calls get suffixes
            scopes = _merge_repeat_calls(scopes)
        modules, owners = _module_tree(scopes)
        used: set[str] = set()
        op_ids: dict[str, int] = defaultdict(int)
        ops: list[Node] = []
        for i, (n, (chain, _types)) in enumerate(zip(self.graph.node, scopes, strict=True)):
            ops.append(self._op(i, n, chain, owners, op_ids, used, producer, edges))
        module_nodes = self._module_nodes(modules, ops)
        nodes += module_nodes + [o for o in ops if o.id not in {m.id for m in module_nodes}]
        outs = list(self.graph.output)
        for vi in outs:
            shape, dtype = self.values[vi.name]
            nid = "output" if len(outs) == 1 else f"output:{vi.name}"
            nodes.append(Node(nid, nid, nid, "Output", "output", input_shapes=[shape], dtype=dtype))
            if vi.name in producer:
                edges.append(Edge(producer[vi.name], nid, shape, dtype))
        edges = _dedupe(edges)
        _container_io(nodes, edges)
        return Graph(self.model, "onnx", nodes, edges, self._totals(ops), self.notes)

    def _scope(self, n: Any) -> tuple[list[str], list[str]]:
        """Qualified module names enclosing an operator, outermost first, and their types."""
        meta = {p.key: p.value for p in n.metadata_props}
        if "pkg.torch.onnx.name_scopes" in meta:
            try:
                names = ast.literal_eval(meta["pkg.torch.onnx.name_scopes"])
                types = ast.literal_eval(meta.get("pkg.torch.onnx.class_hierarchy", "[]"))
            except (ValueError, SyntaxError):
                names, types = [], []
            chain = [s for s in names[1:-1] if s]
            kinds = [str(t).rpartition(".")[2] for t in types[1 : 1 + len(chain)]]
            return chain, kinds + ["Module"] * (len(chain) - len(kinds))
        parts = [p for p in n.name.split("/") if p][:-1] if n.name.startswith("/") else []
        chain: list[str] = []
        for p in parts:
            prev = chain[-1] if chain else ""
            chain.append(p if not prev or p.startswith(prev + ".") else f"{prev}.{p}")
        return chain, ["Module"] * len(chain)

    def _op(
        self,
        i: int,
        n: Any,
        chain: list[str],
        owners: dict[str, tuple[str | None, int]],
        op_ids: dict[str, int],
        used: set[str],
        producer: dict[str, str],
        edges: list[Edge],
    ) -> Node:
        """One operator: a node (or its one-operator scope's module node) and its in-edges."""
        parent = chain[-1] if chain else None
        owner = owners.get(parent) if parent else None
        if owner is not None and owner[1] == i:
            nid, parent = parent, owner[0]
        else:
            base = f"{parent or ''}::{n.op_type}"
            op_ids[base] += 1
            nid = base if op_ids[base] == 1 else f"{base}_{op_ids[base] - 1}"
        params = 0
        in_shapes = []
        for name in n.input:
            if not name:
                continue
            shape, dtype = self.values.get(name, ([], None))
            t = self.init.get(name)
            if t is not None:
                if t.data_type in _FLOAT_TYPES and name not in used:
                    used.add(name)
                    params += math.prod(t.dims)
                continue
            in_shapes.append(shape)
            if name in producer:
                edges.append(Edge(producer[name], nid, shape, dtype))
        out_shapes = [self.values.get(o, ([], None))[0] for o in n.output if o]
        dtype = next((self.values.get(o, ([], None))[1] for o in n.output if o), None)
        for o in n.output:
            producer[o] = nid
        return Node(
            nid, n.op_type, n.op_type, n.op_type, "op", parent,
            input_shapes=in_shapes, output_shapes=out_shapes, dtype=dtype, params=params,
            trainable_params=params, flops=_flops(n, in_shapes, out_shapes, self.values),
            activation_bytes=sum(_nbytes(*self.values.get(o, ([], None))) for o in n.output),
            calls=1,
        )  # fmt: skip

    def _module_nodes(self, modules: dict[str, tuple[str | None, str, bool]], ops: list[Node]):
        """Scope nodes with aggregates; a one-operator scope is that operator, kind module."""
        by_id = {o.id: o for o in ops}
        agg: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for o in ops:
            name = o.id if o.id in modules else o.parent
            while name:
                a = agg[name]
                a[0], a[1], a[2] = a[0] + o.params, a[1] + o.flops, a[2] + o.activation_bytes
                name = modules[name][0]
        out = []
        for name, (parent, kind, _leaf) in modules.items():
            op = by_id.get(name)
            p, f, b = agg[name]
            node = Node(
                name, name, f"{name.rpartition('.')[2]}: {kind}", kind, "module", parent,
                depth=name.count("."), is_container=op is None, params=p, trainable_params=p,
                flops=f, activation_bytes=b, calls=1,
            )  # fmt: skip
            if op is not None:
                node.input_shapes, node.output_shapes, node.dtype = (
                    op.input_shapes, op.output_shapes, op.dtype
                )
                node.type = op.type if kind == "Module" else kind
                node.label = f"{name.rpartition('.')[2]}: {node.type}"
            out.append(node)
        depth = {m.id: m.depth for m in out}
        for o in ops:
            o.depth = depth[o.parent] + 1 if o.parent in depth else 0
        return out

    def _totals(self, ops: list[Node]) -> Totals:
        params = sum(
            math.prod(t.dims) for t in self.graph.initializer if t.data_type in _FLOAT_TYPES
        )
        return Totals(
            params=params,
            trainable_params=params,
            flops=sum(o.flops for o in ops),
            activation_bytes=sum(o.activation_bytes for o in ops),
        )


_REPEAT = re.compile(r"^(.+)_(\d+)$")


def _merge_repeat_calls(
    scopes: list[tuple[list[str], list[str]]],
) -> list[tuple[list[str], list[str]]]:
    """The TorchScript exporter names a module's second call ``relu_1``; when ``relu`` is also a
    scope, both calls belong to that one module (as in a traced PyTorch graph).
    """
    names = {name for chain, _ in scopes for name in chain}
    rename: dict[str, str] = {}
    for name in sorted(names, key=len):
        parent, dot, last = name.rpartition(".")
        base = rename.get(parent, parent) if dot else ""
        match = _REPEAT.match(last)
        own = match.group(1) if match and f"{parent}{dot}{match.group(1)}" in names else last
        rename[name] = f"{base}.{own}" if dot else own
    return [([rename[c] for c in chain], types) for chain, types in scopes]


def _module_tree(
    scopes: list[tuple[list[str], list[str]]],
) -> tuple[dict[str, tuple[str | None, str, bool]], dict[str, tuple[str | None, int]]]:
    """``{qualname: (parent, type, is_leaf)}`` and, per one-operator leaf scope, its operator."""
    modules: dict[str, tuple[str | None, str, bool]] = {}
    count: dict[str, int] = defaultdict(int)
    only: dict[str, Any] = {}
    has_child: set[str] = set()
    for index, (chain, types) in enumerate(scopes):
        for i, name in enumerate(chain):
            parent = chain[i - 1] if i else None
            if name not in modules:
                modules[name] = (parent, types[i], True)
            if parent:
                has_child.add(parent)
        if chain:
            count[chain[-1]] += 1
            only[chain[-1]] = index
    modules = {k: (p, t, k not in has_child) for k, (p, t, _) in modules.items()}
    owners = {
        k: (modules[k][0], only[k]) for k in modules if modules[k][2] and count.get(k) == 1
    }
    return modules, owners


def _value_shape(vi: Any) -> tuple[list[int], str | None]:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return [], _dtype(t.elem_type) if t.elem_type else None
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]
    return dims, _dtype(t.elem_type)


def _dtype(elem_type: int) -> str | None:
    from onnx import helper

    try:
        return str(helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, ValueError, TypeError):
        return None


def _nbytes(shape: list[int], dtype: str | None) -> int:
    if not shape and dtype is None or any(d < 0 for d in shape):
        return 0
    import numpy as np

    try:
        return math.prod(shape) * np.dtype(dtype).itemsize
    except TypeError:
        return 0


def _flops(n: Any, ins: list[list[int]], outs: list[list[int]], values: dict) -> int:
    """Multiply-adds x 2, as torch.utils.flop_counter counts them."""
    if not outs or not outs[0] or any(d < 0 for d in outs[0]):
        return 0
    out = math.prod(outs[0])
    if n.op_type in ("MatMul", "Gemm") and ins and ins[0]:
        k = ins[0][-1] if n.op_type == "MatMul" else _gemm_k(n, ins[0])
        return 2 * out * k if k > 0 else 0
    if n.op_type == "Conv" and len(n.input) > 1:
        w = values.get(n.input[1], ([], None))[0]
        return 2 * out * math.prod(w[1:]) if len(w) > 2 and all(d > 0 for d in w) else 0
    return 0


def _gemm_k(n: Any, a: list[int]) -> int:
    trans_a = next((at.i for at in n.attribute if at.name == "transA"), 0)
    return a[0] if trans_a else a[-1]


def _container_io(nodes: list[Node], edges: list[Edge]) -> None:
    """Scope inputs/outputs are the edges crossing its boundary (first use of each tensor)."""
    by_id = {n.id: n for n in nodes}

    def scopes(node_id: str) -> set[str]:
        out, node = set(), by_id.get(node_id)
        while node is not None:
            if node.is_container:
                out.add(node.id)
            node = by_id.get(node.parent) if node.parent else None
        return out

    seen: set[tuple[str, str, bool]] = set()
    for e in edges:
        a, b = scopes(e.source), scopes(e.target)
        for c, into in [(c, True) for c in b - a] + [(c, False) for c in a - b]:
            if e.shape is None or (c, e.source, into) in seen:
                continue
            seen.add((c, e.source, into))
            (by_id[c].input_shapes if into else by_id[c].output_shapes).append(e.shape)
            by_id[c].dtype = by_id[c].dtype or e.dtype


def _dedupe(edges: list[Edge]) -> list[Edge]:
    seen: dict[tuple[str, str], Edge] = {}
    for e in edges:
        seen.setdefault((e.source, e.target), e)
    return list(seen.values())
