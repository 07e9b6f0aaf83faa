"""Dynamic tracing: run the model once and watch it.

Module forward hooks give the module calls; a ``TorchFunctionMode`` sees every torch function
and tensor method called between modules (add, cat, matmul, view, softmax, attention), and a
weak identity map from tensor to producer turns them into dataflow edges. This works for
data-dependent control flow, dict inputs and outputs and modules called twice, where torch.fx
gives up. FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``: each node gets the
counter's growth during its call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

from deepscope.graph.assemble import RawNode, RawTrace
from deepscope.graph.tensors import (
    StorageTracker,
    dtype_name,
    flop_counter,
    is_inplace,
    iter_tensors,
    named_inputs,
    op_name,
    shape_of,
    tensors_of,
)


@dataclass
class _Frame:
    name: str
    leaf: bool
    hidden: bool  # inside a leaf module: nothing below is recorded
    flops0: int
    input_shapes: list[list[int]]


class HookTracer:
    """Records one forward pass of ``model`` into a :class:`RawTrace`.

    Example:
        >>> import torch
        >>> m = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
        >>> raw = HookTracer(m).trace((torch.randn(2, 4),), {})
        >>> sorted(raw.edges)
        [('0', '1'), ('1', 'output'), ('input:input', '0')]

    """

    def __init__(self, model: torch.nn.Module, state_ids: set[int] | None = None) -> None:
        self.model = model
        self.names = {id(m): n for n, m in model.named_modules() if n}
        self.leaves = {id(m) for m in model.modules() if next(m.children(), None) is None}
        if state_ids is None:
            state_ids = {id(t) for t in model.parameters()} | {id(t) for t in model.buffers()}
        self.state_ids = state_ids  # parameters and buffers: ops reading them are data
        self.raw = RawTrace("hook")
        self.producers: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.stack: list[_Frame] = []
        self.storage = StorageTracker()
        self.counter = flop_counter()
        self.op_ids: dict[str, int] = {}

    # -- public ----------------------------------------------------------------------------
    def trace(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> RawTrace:
        """Run ``model(*args, **kwargs)`` once; hooks are removed even if the forward raises."""
        self._add_inputs(args, kwargs)
        handles = []
        try:
            for m in self.model.modules():
                if id(m) in self.names:
                    handles.append(m.register_forward_pre_hook(self._pre, with_kwargs=True))
                    handles.append(m.register_forward_hook(self._post, with_kwargs=True))
            with self.counter, _Recorder(self):
                out = self.model(*args, **kwargs)
        finally:
            for h in handles:
                h.remove()
        self.raw.flops_total = self.flops()
        self._add_outputs(out)
        return self.raw

    def flops(self) -> int:
        """FLOPs counted so far in this pass."""
        return sum(self.counter.flop_counts["Global"].values())

    # -- inputs and outputs ----------------------------------------------------------------
    def _add_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        for path, t in named_inputs(self.model, args, kwargs):
            node_id = f"input:{path}"
            if t in self.producers:
                continue
            self.raw.nodes[node_id] = RawNode(
                node_id, node_id, "input", "Input", None, [], [shape_of(t)], dtype_name(t)
            )
            self.producers[t] = node_id
            self.storage.mark([t])

    def _add_outputs(self, out: Any) -> None:
        found = list(iter_tensors(out))
        for path, t in found:
            node_id = "output" if len(found) == 1 else f"output:{path}"
            self.raw.nodes[node_id] = RawNode(
                node_id, node_id, "output", "Output", None, [shape_of(t)], [], dtype_name(t)
            )
            src = self.producers.get(t)
            if src is not None:
                self.raw.add_edge(src, node_id, shape_of(t), dtype_name(t))

    # -- module hooks ----------------------------------------------------------------------
    def _pre(self, module: torch.nn.Module, args: Any, kwargs: Any) -> None:
        name = self.names[id(module)]
        hidden = bool(self.stack) and (self.stack[-1].leaf or self.stack[-1].hidden)
        leaf = id(module) in self.leaves
        inputs = tensors_of((args, kwargs))
        frame = _Frame(name, leaf, hidden, self.flops(), [shape_of(t) for t in inputs])
        self.stack.append(frame)
        if leaf and not hidden:
            for t in inputs:
                src = self.producers.get(t)
                if src is not None:
                    self.raw.add_edge(src, name, shape_of(t), dtype_name(t))

    def _post(self, module: torch.nn.Module, args: Any, kwargs: Any, output: Any) -> None:
        if not self.stack or self.stack[-1].name != self.names[id(module)]:
            return  # a hook of a module called from another hook; nothing consistent to record
        frame = self.stack.pop()
        if frame.hidden:
            return
        outs = tensors_of(output)
        out_shapes = [shape_of(t) for t in outs]
        dtype = dtype_name(outs[0]) if outs else None
        if not frame.leaf:
            seen = self.raw.module_io.get(frame.name)
            calls = seen[3] + 1 if seen else 1
            io = seen[:3] if seen else (frame.input_shapes, out_shapes, dtype)
            self.raw.module_io[frame.name] = (*io, calls)
            return
        node = self.raw.nodes.get(frame.name)
        if node is None:
            node = RawNode(
                frame.name, frame.name, "module", type(module).__name__,
                self._parent_of(frame.name), frame.input_shapes, out_shapes, dtype, calls=0,
            )  # fmt: skip
            self.raw.nodes[frame.name] = node
        node.calls += 1
        node.flops += self.flops() - frame.flops0
        node.activation_bytes += sum(self.storage.new_bytes(t) for t in outs)
        for t in outs:
            self.producers[t] = frame.name

    def _parent_of(self, name: str) -> str | None:
        """Innermost recorded container on the call stack."""
        for frame in reversed(self.stack):
            if frame.name != name and not frame.leaf:
                return frame.name
        return None

    # -- functional ops --------------------------------------------------------------------
    def recording(self) -> bool:
        """False inside leaf modules, whose internals are not part of the graph."""
        return not self.stack or not (self.stack[-1].leaf or self.stack[-1].hidden)

    def record_op(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any,
                  flops: int) -> None:  # fmt: skip
        """Add an op node for one torch call between modules (skipped when it makes no tensor)."""
        outs = tensors_of(out)
        if not outs and out is not None:
            return  # sizes, dtypes, flags: most calls end here, so check this first
        name = op_name(func)
        inputs = tensors_of((args, kwargs))
        if name == "setitem" and inputs:
            outs = [inputs[0]]
        if not outs:
            return
        if not is_inplace(name) and all(any(o is i for i in inputs) for o in outs):
            return  # a no-op such as .contiguous() on a contiguous tensor
        parent = self.stack[-1].name if self.stack else None
        base = f"{parent or ''}::{name}"
        k = self.op_ids.get(base, 0)
        self.op_ids[base] = k + 1
        node_id = base if k == 0 else f"{base}_{k}"
        node = RawNode(
            node_id, name, "op", name, parent, [shape_of(t) for t in inputs],
            [shape_of(t) for t in outs], dtype_name(outs[0]), flops,
        )  # fmt: skip
        node.anchored = any(id(t) in self.state_ids for t in inputs)
        node.activation_bytes = sum(self.storage.new_bytes(t) for t in outs)
        self.raw.nodes[node_id] = node
        for t in inputs:
            src = self.producers.get(t)
            if src is not None:
                self.raw.add_edge(src, node_id, shape_of(t), dtype_name(t))
        for t in outs:
            self.producers[t] = node_id


class _Recorder(TorchFunctionMode):
    """Sees each top-level torch call (the mode is off inside its own handler, so a call's
    internals are not seen twice).
    """

    def __init__(self, tracer: HookTracer) -> None:
        super().__init__()
        self.tracer = tracer

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if not self.tracer.recording():
            return func(*args, **kwargs)
        before = self.tracer.flops()
        out = func(*args, **kwargs)
        self.tracer.record_op(func, args, kwargs, out, self.tracer.flops() - before)
        return out
