"""Static tracing with torch.fx, then one interpreted pass for shapes and FLOPs.

Leaf modules are the modules without children; containers are traced through, and each op
keeps its container from fx's ``nn_module_stack``. Anything fx cannot trace raises, and the
caller falls back to hook tracing with the reason.
"""

from __future__ import annotations

import inspect
import operator
from typing import Any

import torch
import torch.fx as fx
from torch.utils.flop_counter import FlopCounterMode

from deepscope.graph.assemble import RawNode, RawTrace
from deepscope.graph.guard import shape_only
from deepscope.graph.tensors import (
    StorageTracker,
    dtype_name,
    flop_counter,
    op_name,
    shape_of,
    tensors_of,
)

Info = dict[fx.Node, tuple[Any, int, int]]  # fx node -> (value summary, FLOPs, new bytes)
_SHAPE_METHODS = {"size", "dim", "numel", "stride", "type", "is_contiguous"}


class FxUnsupported(Exception):
    """torch.fx cannot trace this model; the message says why."""


class _LeafTracer(fx.Tracer):
    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        return next(m.children(), None) is None


class _Runner(fx.Interpreter):
    """Runs the traced graph on real inputs, keeping per-node output info (not the values)."""

    def __init__(self, gm: fx.GraphModule, counter: FlopCounterMode, storage: StorageTracker):
        super().__init__(gm)
        self.counter = counter
        self.storage = storage
        self.info: Info = {}

    def run_node(self, n: fx.Node) -> Any:
        before = sum(self.counter.flop_counts["Global"].values())
        out = super().run_node(n)
        after = sum(self.counter.flop_counts["Global"].values())
        nbytes = 0
        if n.op in ("call_module", "call_function", "call_method"):
            nbytes = sum(self.storage.new_bytes(t) for t in tensors_of(out))
        self.info[n] = (_summarise(out), after - before, nbytes)
        return out


def _summarise(value: Any) -> Any:
    """Keep what the graph needs from a value: tensors become lightweight stand-ins."""
    if isinstance(value, torch.Tensor):
        return _TensorInfo(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_summarise(v) for v in value) if type(value) in (tuple, list) else None
    return None


class _TensorInfo:
    """Shape and dtype of a value the interpreter produced (the tensor itself is not kept)."""

    def __init__(self, t: torch.Tensor) -> None:
        self.shape, self.dtype = shape_of(t), dtype_name(t)


def _infos(value: Any) -> list[_TensorInfo]:
    if isinstance(value, _TensorInfo):
        return [value]
    if isinstance(value, (tuple, list)):
        return [i for v in value for i in _infos(v)]
    return []


def fx_trace(
    model: torch.nn.Module, inputs: tuple[tuple, dict] | None, fake: bool = False
) -> RawTrace:
    """Trace ``model`` with torch.fx; with inputs, run it once for shapes and FLOPs (on fake
    tensors if ``fake``, see :func:`~deepscope.graph.guard.shape_only`).

    Example:
        >>> import torch
        >>> raw = fx_trace(torch.nn.Sequential(torch.nn.Linear(4, 2)), ((torch.randn(1, 4),), {}))
        >>> raw.nodes["0"].output_shapes
        [[1, 2]]

    """
    sig = inspect.signature(model.forward)
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in sig.parameters.values()):
        raise FxUnsupported("forward takes *args or **kwargs")
    bound: dict[str, Any] = {}
    if inputs is not None:
        try:
            bound = dict(sig.bind(*inputs[0], **inputs[1]).arguments)
        except TypeError as err:
            raise FxUnsupported(f"inputs do not match forward: {err}") from None
    concrete = {k: p.default for k, p in sig.parameters.items() if k not in bound}
    if inputs is None:
        concrete = {}
    tracer = _LeafTracer()
    graph = tracer.trace(model, concrete_args=concrete or None)
    gm = fx.GraphModule(tracer.root, graph)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(sig.parameters):
        raise FxUnsupported("traced inputs do not match the forward signature")
    info: Info = {}
    total = 0
    if inputs is not None:
        values = [bound.get(k, concrete.get(k)) for k in sig.parameters]
        if any(isinstance(v, (dict, list, tuple)) and tensors_of(v) for v in values):
            raise FxUnsupported("an input is a container of tensors")
        info, total = _interpret(gm, values, fake)
    raw = _to_raw(graph, list(sig.parameters), info)
    raw.flops_total = total
    return raw


def _interpret(gm: fx.GraphModule, values: list[Any], fake: bool) -> tuple[Info, int]:
    """Run the traced graph once, keeping per-node shapes, FLOPs and new activation bytes."""
    storage = StorageTracker()
    counter = flop_counter()
    runner = _Runner(gm, counter, storage)
    if not fake:
        storage.mark(tensors_of(values))
        with counter:
            runner.run(*values)
        return runner.info, counter.get_total_flops()
    with shape_only(gm, tuple(values), {}) as (args, _, _):
        storage.mark(tensors_of(args))
        with counter:
            runner.run(*args)
    return runner.info, counter.get_total_flops()


def _to_raw(graph: fx.Graph, arg_names: list[str], info: Info) -> RawTrace:
    """Fx nodes -> raw nodes and edges."""
    return _Converter(info).convert(graph, arg_names)


class _Converter:
    """One pass over the fx graph. ``src[n]`` lists the ``(graph id, value)`` pairs whose data
    node ``n`` carries: itself for a real node, its tuple's producer for ``getitem`` aliases.
    """

    def __init__(self, info: Info) -> None:
        self.info = info
        self.raw = RawTrace("fx")
        self.src: dict[fx.Node, list[tuple[str, Any]]] = {}
        self.state: set[fx.Node] = set()
        self.op_ids: dict[str, int] = {}

    def convert(self, graph: fx.Graph, arg_names: list[str]) -> RawTrace:
        names = iter(arg_names)
        for n in graph.nodes:
            value, flops, nbytes = self.info.get(n, (None, 0, 0))
            if n.op == "placeholder":
                self._placeholder(n, next(names), value)
            elif n.op == "get_attr":
                self.state.add(n)
            elif n.op == "output":
                _outputs(self.raw, n, self.src)
            elif _is_alias(n, self.info):
                self.src[n] = [(sid, value) for sid, _ in self.src.get(n.args[0], [])]
            elif (value is None and self.info) or (
                n.op == "call_method" and n.target in _SHAPE_METHODS
            ):
                self.src[n] = []  # produces no tensor (sizes, flags, asserts)
            else:
                self._compute(n, value, flops).activation_bytes += nbytes
        return self.raw

    def _placeholder(self, n: fx.Node, arg_name: str, value: Any) -> None:
        if self.info and not isinstance(value, _TensorInfo):
            self.src[n] = []
            return
        node_id = f"input:{arg_name}"
        shapes = [value.shape] if isinstance(value, _TensorInfo) else []
        dtype = value.dtype if isinstance(value, _TensorInfo) else None
        node = RawNode(node_id, node_id, "input", "Input", None, [], shapes, dtype)
        self.raw.nodes[node_id] = node
        self.src[n] = [(node_id, value)]

    def _compute(self, n: fx.Node, value: Any, flops: int) -> RawNode:
        """A leaf module call or a functional op, with its incoming edges."""
        outs = _infos(value)
        node = self.raw.nodes.get(str(n.target)) if n.op == "call_module" else None
        if node is not None:  # the same module called again
            node.calls += 1
            node.flops += flops
        else:
            node = self._new_node(n, outs, flops)
            self.raw.nodes[node.id] = node
        first = not node.input_shapes
        for a in n.all_input_nodes:
            node.anchored = node.anchored or a in self.state
            for sid, v in self.src.get(a, []):
                shape = v.shape if isinstance(v, _TensorInfo) else None
                dtype = v.dtype if isinstance(v, _TensorInfo) else None
                if first and shape is not None:
                    node.input_shapes.append(shape)
                self.raw.add_edge(sid, node.id, shape, dtype)
        self.src[n] = [(node.id, value)]
        return node

    def _new_node(self, n: fx.Node, outs: list[_TensorInfo], flops: int) -> RawNode:
        shapes, dtype = [o.shape for o in outs], outs[0].dtype if outs else None
        if n.op == "call_module":
            name = str(n.target)
            return RawNode(name, name, "module", _module_type(n), None, [], shapes, dtype, flops)
        name = op_name(n.target) if n.op == "call_function" else str(n.target)
        stack = n.meta.get("nn_module_stack") or {}
        parent = list(stack.values())[-1][0] if stack else None
        base = f"{parent or ''}::{name}"
        k = self.op_ids.get(base, 0)
        self.op_ids[base] = k + 1
        node_id = base if k == 0 else f"{base}_{k}"
        return RawNode(node_id, name, "op", name, parent, [], shapes, dtype, flops)


def _is_alias(n: fx.Node, info: Info) -> bool:
    """``getitem`` on a tuple output (LSTM, split): the data comes from the tuple's producer."""
    if n.op != "call_function" or n.target is not operator.getitem:
        return False
    source = n.args[0]
    if not isinstance(source, fx.Node):
        return False
    if info:
        return not isinstance(info.get(source, (None,))[0], _TensorInfo)
    return source.op == "call_module" or (source.op == "call_method" and source.target != "view")


def _module_type(n: fx.Node) -> str:
    stack = n.meta.get("nn_module_stack") or {}
    for qual, cls in stack.values():
        if qual == n.target:
            return cls.__name__ if isinstance(cls, type) else str(cls).rpartition(".")[2]
    return "Module"


def _outputs(raw: RawTrace, n: fx.Node, src: dict[fx.Node, list[tuple[str, Any]]]) -> None:
    """Output nodes for every tensor in the returned structure (``output:logits``)."""
    found: list[tuple[str, str, Any]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, fx.Node):
            found.extend((path, sid, v) for sid, v in src.get(value, []))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else str(k))
        elif isinstance(value, (tuple, list)):
            for i, v in enumerate(value):
                walk(v, f"{path}.{i}" if path else str(i))

    walk(n.args[0], "")
    for path, sid, v in found:
        node_id = "output" if len(found) == 1 else f"output:{path}"
        shape = v.shape if isinstance(v, _TensorInfo) else None
        dtype = v.dtype if isinstance(v, _TensorInfo) else None
        raw.nodes[node_id] = RawNode(
            node_id, node_id, "output", "Output", None, [shape] if shape else [], [], dtype
        )
        raw.add_edge(sid, node_id, shape, dtype)
