"""The one owner of every hook deepscope puts on a model (and its optimizer).

Cost model: on an unsampled step only two root hooks run (count the step, check the output is
finite). On a sampled step, leaf hooks are attached for that forward only, statistics are reduced
on device, and everything is moved to the CPU once when the next step starts (or at unwatch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepscope.capture.families import bounds_of, family_of
from deepscope.capture.nonfinite import all_finite, replay_nonfinite
from deepscope.capture.schedule import Every, Schedule
from deepscope.capture.stats import HistRow, StatRow, StepStats, unit_dim_for
from deepscope.capture.tensors import first_float_tensor, iter_float_tensors
from deepscope.store.records import LayerInfo
from deepscope.store.schema import ROOT_LAYER

Sink = Callable[[int, list[StatRow], list[HistRow]], None]
EventSink = Callable[[dict[str, Any]], None]


@dataclass
class _Layer:
    name: str
    module: nn.Module
    family: str
    bounds: tuple[float, float] | None
    params: list[tuple[str, nn.Parameter]]
    is_leaf: bool


class Watcher:
    """Attach statistics hooks to ``model``; always call :meth:`close` (or use ``with``).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> rows = []
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> with Watcher(model, sink=lambda step, s, h: rows.extend(s)) as w:
        ...     model(torch.randn(16, 4)).sum().backward()
        >>> sorted({kind for _, kind, _ in rows})
        ['activation', 'grad', 'input', 'weight']

    """

    def __init__(
        self,
        model: nn.Module,
        *,
        sink: Sink,
        optimizer: torch.optim.Optimizer | None = None,
        schedule: Schedule | None = None,
        histograms: bool = True,
        bins: int = 64,
        activation_grads: bool = False,
        check_nonfinite: bool = True,
        on_event: EventSink | None = None,
        on_first_forward: Callable[[tuple[Any, ...], dict[str, Any]], None] | None = None,
        on_step_end: Callable[[int], None] | None = None,
    ):
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule or Every(10)
        self.histograms, self.bins = histograms, int(bins)
        self.activation_grads = activation_grads
        self.check_nonfinite = check_nonfinite
        self._sink, self._on_event = sink, on_event
        self._on_first_forward, self._on_step_end = on_first_forward, on_step_end
        self.step = -1
        self._busy = False
        self._in_forward = False
        self._stats: StepStats | None = None
        self._pending_grad = False
        self._snapshot: dict[str, torch.Tensor] = {}
        self._nonfinite_reported = False
        self._rng: torch.Tensor | None = None
        self._order: dict[str, int] = {}
        self._handles: list[Any] = []
        self._leaf_handles: list[Any] = []
        self._backward_queued = False
        self._first_inputs: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._layers = self._discover()
        self._in_opt = self._optimizer_param_ids()
        self._attach()

    # -- structure -------------------------------------------------------------------------
    def _discover(self) -> list[_Layer]:
        layers = []
        for name, mod in self.model.named_modules():
            params = list(mod.named_parameters(recurse=False))
            is_leaf = next(iter(mod.children()), None) is None
            if not params and not is_leaf and mod is not self.model:
                continue
            fam = family_of(mod)
            layers.append(
                _Layer(name or ROOT_LAYER, mod, fam, bounds_of(mod, fam), params, is_leaf)
            )
        return layers

    def _optimizer_param_ids(self) -> set[int] | None:
        if self.optimizer is None:
            return None
        return {id(p) for g in self.optimizer.param_groups for p in g["params"]}

    def layer_infos(self) -> list[LayerInfo]:
        """Layers in forward order (registration order for layers not seen in a forward yet)."""
        base = len(self._order)
        infos = []
        for i, lay in enumerate(self._layers):
            params = tuple(
                {
                    "name": pname,
                    "shape": list(p.shape),
                    "numel": p.numel(),
                    "requires_grad": p.requires_grad,
                    "in_optimizer": None if self._in_opt is None else id(p) in self._in_opt,
                }
                for pname, p in lay.params
            )
            order = self._order.get(lay.name, base + i)
            infos.append(
                LayerInfo(
                    lay.name,
                    type(lay.module).__name__,
                    lay.family,
                    order,
                    sum(p.numel() for _, p in lay.params),
                    sum(p.numel() for _, p in lay.params if p.requires_grad),
                    params,
                )
            )
        return sorted(infos, key=lambda x: x.order)

    def _attach(self) -> None:
        root = self.model
        self._handles.append(root.register_forward_pre_hook(self._root_pre, with_kwargs=True))
        self._handles.append(root.register_forward_hook(self._root_post, with_kwargs=True))
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_pre_hook(self._opt_pre))
            self._handles.append(self.optimizer.register_step_post_hook(self._opt_post))

    # -- root hooks ------------------------------------------------------------------------
    def _root_pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self._busy or self._in_forward or not torch.is_grad_enabled():
            return
        self.end_step()
        self.step += 1
        self._in_forward = True
        if self.check_nonfinite:
            self._rng = torch.get_rng_state()
        if not self.schedule(self.step):
            return
        stats = self._stats = StepStats(self.step, self.bins, self.histograms)
        self._pending_grad = True
        self._backward_queued = False
        for lay in self._layers:
            if lay.params:
                stats.add(lay.name, "weight", [p for _, p in lay.params])
        x = first_float_tensor((args, kwargs))
        if x is not None:
            stats.add(ROOT_LAYER, "input", x)
        for lay in self._layers:
            if lay.is_leaf and lay.module is not self.model:
                self._leaf_handles.append(
                    lay.module.register_forward_hook(self._make_leaf_hook(lay))
                )

    def _root_post(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        if self._busy or not self._in_forward:
            return
        self._in_forward = False
        self._remove_leaf_hooks()
        if self._stats is not None and self._stats.step == self.step:
            out = first_float_tensor(output)
            if out is not None:
                self._note_order(ROOT_LAYER)
                self._stats.add(ROOT_LAYER, "activation", out)
            if self.optimizer is None:
                for t in iter_float_tensors(output, limit=8):
                    if t.requires_grad:
                        t.register_hook(self._queue_backward_end)
        if self.check_nonfinite and not self._nonfinite_reported and not all_finite(output):
            self._report_forward_nonfinite(args, kwargs)
        if self.step == 0 and self._on_first_forward is not None:
            # Recorded when the step ends (after backward), so nothing the recorder does can
            # disturb tensors autograd saved for this step's backward.
            self._first_inputs = (args, kwargs)

    def _make_leaf_hook(self, lay: _Layer):  # noqa: ANN202
        def hook(_m: nn.Module, _args: Any, output: Any) -> None:
            stats = self._stats
            if self._busy or stats is None:
                return
            t = first_float_tensor(output)
            if t is None:
                return
            self._note_order(lay.name)
            stats.add(lay.name, "activation", t, unit_dim=unit_dim_for(t), bounds=lay.bounds)
            if self.activation_grads and t.requires_grad:
                t.register_hook(lambda g, name=lay.name, s=stats: s.add(name, "activation_grad", g))

        return hook

    def _note_order(self, name: str) -> None:
        if name not in self._order:
            self._order[name] = len(self._order)

    def _remove_leaf_hooks(self) -> None:
        for h in self._leaf_handles:
            h.remove()
        self._leaf_handles.clear()

    # -- gradients and updates -------------------------------------------------------------
    def _queue_backward_end(self, grad: torch.Tensor) -> None:
        if not self._backward_queued:
            self._backward_queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._backward_end)

    def _backward_end(self) -> None:
        if self._pending_grad:
            self._add_grads(self._ensure_stats())
            self._pending_grad = False

    def _ensure_stats(self) -> StepStats:
        if self._stats is None or self._stats.step != self.step:
            if self._stats is not None:
                self._flush_stats()
            self._stats = StepStats(self.step, self.bins, self.histograms)
        return self._stats

    def _add_grads(self, stats: StepStats) -> None:
        for lay in self._layers:
            trainable = [p for _, p in lay.params if p.requires_grad]
            if not trainable:
                continue
            grads = [p.grad for p in trainable if p.grad is not None and not p.grad.is_sparse]
            if grads:
                stats.add(lay.name, "grad", grads)
            else:
                stats.add_missing(lay.name, "grad")

    def _opt_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self._pending_grad or self._busy:
            return
        self._pending_grad = False
        stats = self._ensure_stats()
        self._add_grads(stats)
        ids = self._optimizer_param_ids() or set()
        self._in_opt = ids
        self._snapshot = {}
        for lay in self._layers:
            params = [p for _, p in lay.params if id(p) in ids]
            if params:
                self._snapshot[lay.name] = _cat(params).clone()

    def _opt_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if not self._snapshot:
            return
        stats = self._ensure_stats()
        for lay in self._layers:
            before = self._snapshot.get(lay.name)
            if before is None:
                continue
            after = _cat(p for _, p in lay.params if id(p) in self._in_opt)
            stats.add(lay.name, "update", after - before)
            if (lay.name, "weight") not in stats:  # the weights were not sampled at this step
                stats.add(lay.name, "_before", before, hist=False)
            stats.ratio(lay.name, "update", "weight", "_before")
        self._snapshot = {}

    # -- non-finite ------------------------------------------------------------------------
    def _report_forward_nonfinite(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._nonfinite_reported = True
        leaves = [
            (lay.name, lay.module)
            for lay in self._layers
            if lay.is_leaf and lay.module is not self.model
        ]
        self._busy = True
        try:
            modules = replay_nonfinite(self.model, leaves, args, kwargs, self._rng)
        finally:
            self._busy = False
        input_bad = not all_finite((args, kwargs))
        order = {lay.name: i for i, lay in enumerate(self._layers)}
        layer = modules[0] if modules else ROOT_LAYER
        self._emit(
            {
                "kind": "nonfinite",
                "step": self.step,
                "layer": layer,
                "data": {
                    "source": "input" if input_bad else "activation",
                    "modules": modules[:10],
                    "input_nonfinite": input_bad,
                    "registration_index": order.get(layer),
                },
            }
        )

    def report_nonfinite_loss(self, tag: str, value: float) -> None:
        """Called by the run when a logged loss is NaN/Inf before any forward output was."""
        if self._nonfinite_reported:
            return
        self._nonfinite_reported = True
        self._emit(
            {
                "kind": "nonfinite",
                "step": max(self.step, 0),
                "layer": None,
                "data": {"source": "loss", "tag": tag, "value": str(value), "modules": []},
            }
        )

    def _check_grad_rows(self, step: int, rows: list[StatRow]) -> None:
        if self._nonfinite_reported:
            return
        order = {lay.name: i for i, lay in enumerate(self._layers)}
        bad = [
            (layer, kind)
            for layer, kind, vec in rows
            if kind in ("grad", "weight", "update") and vec[7] > 0
        ]
        if bad:
            # Backward runs in reverse: the non-finite gradient that appeared first is the one of
            # the last layer in forward order.
            bad.sort(key=lambda lk: (-self._order.get(lk[0], order.get(lk[0], 0)), lk[1]))
            self._nonfinite_reported = True
            self._emit(
                {
                    "kind": "nonfinite",
                    "step": step,
                    "layer": bad[0][0],
                    "data": {"source": bad[0][1], "modules": [b[0] for b in bad[:10]]},
                }
            )

    def _emit(self, event: dict[str, Any]) -> None:
        if self._on_event is not None:
            self._on_event(event)

    # -- lifecycle -------------------------------------------------------------------------
    def _flush_stats(self) -> None:
        stats, self._stats = self._stats, None
        if not stats:
            return
        rows, hists = stats.collect()
        rows = [r for r in rows if not r[1].startswith("_")]
        hists = [h for h in hists if not h[1].startswith("_")]
        self._sink(stats.step, rows, hists)
        self._check_grad_rows(stats.step, rows)

    def end_step(self) -> None:
        """Move the current step's statistics to the sink (called when the next step starts)."""
        if self._first_inputs is not None and self._on_first_forward is not None:
            (args, kwargs), self._first_inputs = self._first_inputs, None
            self._busy = True
            try:
                self._on_first_forward(args, kwargs)
            finally:
                self._busy = False
        if self._stats is None:
            return
        step = self._stats.step
        self._flush_stats()
        if self._on_step_end is not None:
            self._on_step_end(step)

    def close(self) -> None:
        """Flush pending statistics and remove every hook. Idempotent."""
        try:
            self.end_step()
        finally:
            self._remove_leaf_hooks()
            for h in self._handles:
                h.remove()
            self._handles.clear()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cat(tensors: Any) -> torch.Tensor:
    flat = [t.detach().reshape(-1) for t in tensors]
    if len(flat) == 1:
        return flat[0]
    dtype = (
        torch.promote_types(*{t.dtype for t in flat})
        if len({t.dtype for t in flat}) > 1
        else flat[0].dtype
    )
    return torch.cat([t.to(dtype) for t in flat])
