"""The one owner of every hook deepscope puts on a model (and its optimizer).

Steps: with an optimizer (given, found among live objects, or adopted at its first ``step()``) a
step is one optimizer step; otherwise one training forward (grad enabled) of the entry module.
The *entry* is the watched module a training forward goes through first: the root normally, a
submodule when the training code calls that directly (``self.net(x)`` inside a LightningModule).

Cost model: an unsampled step runs two hooks on the entry (and two on the optimizer): the step
clock and a finiteness check of the output. A sampled step adds leaf hooks for its first training
forward only, reads gradients where the optimizer reads them, and moves its statistics to the
host once, when the step ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from deepscope.capture import gradients as grads
from deepscope.capture.distributed import RankReducer, is_sharded, rank_and_world
from deepscope.capture.entry import DECIDE_AFTER_FORWARDS, EntryHooks
from deepscope.capture.layers import Layer, discover, layer_infos
from deepscope.capture.nonfinite import FiniteCheck, replay_nonfinite
from deepscope.capture.optimizers import HUB, existing_optimizers, owns
from deepscope.capture.schedule import Every, Schedule
from deepscope.capture.signals import StepSignals
from deepscope.capture.stats import HistRow, StatRow, StepStats
from deepscope.capture.step_end import EndedStep, Sink, StepEnd
from deepscope.capture.transformer import TransformerCapture, TransformerRows
from deepscope.capture.transformer_steps import TransformerSteps
from deepscope.capture.window import ForwardCapture, eval_modules
from deepscope.capture.wrappers import is_compiled, real_optimizer, unwrap_module
from deepscope.store.records import LayerInfo
from deepscope.store.schema import ROOT_LAYER

EventSink = Callable[[dict[str, Any]], None]


def _group_ready() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


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
        optimizer: Any = None,
        name: str | None = None,
        schedule: Schedule | None = None,
        histograms: bool = True,
        histogram_schedule: Schedule | None = None,
        bins: int = 64,
        activation_grads: bool = False,
        check_nonfinite: bool = True,
        find_optimizer: bool = True,
        on_event: EventSink | None = None,
        on_first_forward: Callable[[nn.Module, str, tuple[Any, ...], dict[str, Any]], None]
        | None = None,
        on_step_end: Callable[[int], None] | None = None,
        transformer: bool = True,
        probe: Any = None,
        tokens: Sequence[str] | None = None,
        on_transformer: Callable[[int, TransformerRows], None] | None = None,
    ):
        self.outer = model
        self.model = unwrap_module(model)
        self.name = name
        self.root_name = name or ROOT_LAYER
        self.compiled = is_compiled(model) or is_compiled(self.model)
        self.schedule = schedule or Every(10)
        self.histograms, self.bins = histograms, int(bins)
        self._histogram_schedule = histogram_schedule  # None: at every sampled step
        self.activation_grads = activation_grads
        self._on_event, self._on_first_forward = on_event, on_first_forward
        self._layers = discover(self.model, name, self.root_name, self.compiled)
        self._param_ids = {id(p) for lay in self._layers for _, p in lay.params}
        # The replay of a non-finite forward restores the RNG state only where it matters
        # (dropout-like modules); saving it costs a copy of the generator state every step.
        random = any(lay.mode == "dropout" for lay in self._layers)
        self._finite = FiniteCheck(save_rng=random) if check_nonfinite else None
        rank, world = rank_and_world()
        self.rank = rank
        self._reducer = RankReducer(world, rank, sharded=is_sharded(self.outer)) \
            if world > 1 and _group_ready() else None
        # Step clock and the sampled step in progress.
        self.step = -1
        self.last_forward_step: int | None = None
        self.training_forwards = 0
        self.untrained_forwards = 0
        self.optimizer_steps = 0
        self._stats: StepStats | None = None
        self._signals = StepSignals()
        self._capture: ForwardCapture | None = None
        self._captured = False
        self._busy = False
        self._order: dict[str, int] = {}
        self._first_call: tuple[nn.Module, str, tuple[Any, ...], dict[str, Any]] | None = None
        self._graph_pending = on_first_forward is not None
        # Optimizer state.
        self._opt: torch.optim.Optimizer | None = None
        self._opt_handles: list[Any] = []
        self._opt_ids: set[int] = set()
        self._grads_read = False
        self._grads_at_backward_end = False
        self._backward_done = False
        self._backward_queued = False
        self._snapshot: grads.Snapshot = {}
        self._carried: grads.CarriedGradCheck | None = None
        self._sink = sink
        self._step_end = StepEnd(self._write_step, self._emit, self.root_name, finite=self._finite,
                                 reducer=self._reducer, rank=rank,
                                 on_step_end=on_step_end)
        self._skip_checked = False
        # A module compiled in place runs its own hooks inside the compiled code: it gets none,
        # and its steps are seen at the optimizer only.
        self._hookable = type(model).__name__ == "OptimizedModule" or not is_compiled(self.model)
        self._entry = EntryHooks(self.outer, self.model, begin=self._forward_begin,
                                 end=self._forward_end, busy=lambda: self._busy,
                                 hookable=self._hookable, probe=not self.compiled)
        # Attention, residual blocks and logits of transformers (see capture/transformer.py). The
        # probe runs on this process alone, which a sharded model cannot do.
        sharded = is_sharded(self.outer)
        self._tx = TransformerCapture(self.model, f"{name}." if name else "", self.root_name,
                                      compiled=self.compiled, probe=None if sharded else probe,
                                      tokens=tokens) if transformer else None
        self._tx_steps = TransformerSteps(
            self._tx, on_transformer, writes=self._reducer is None or rank == 0,
            quiet=self._quiet, emit=self._emit) if self._tx is not None else None
        if optimizer is not None:
            self._use_optimizer(real_optimizer(optimizer), hooks=True)
        elif find_optimizer:
            found = existing_optimizers(self._param_ids)
            if len(found) == 1:
                self._use_optimizer(found[0], hooks=True)
            else:
                HUB.add(self)
        if self._opt is not None:
            self._begin_step(0)

    def layer_infos(self) -> list[LayerInfo]:
        """Layers in forward order (registration order for layers not seen in a forward yet)."""
        return layer_infos(self._layers, self._order, self._opt_ids if self._opt else None)

    @property
    def optimizer(self) -> torch.optim.Optimizer | None:
        """The optimizer whose steps are this watch's steps (None: steps are forwards)."""
        return self._opt

    @property
    def hookable(self) -> bool:
        """False for a model compiled in place: its forwards cannot be seen, only its steps."""
        return self._hookable

    def _note_order(self, name: str) -> None:
        if name not in self._order:
            self._order[name] = len(self._order)

    # -- forwards (reported by EntryHooks) ---------------------------------------------------
    def _forward_begin(
        self, module: nn.Module, path: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> bool:
        if not torch.is_grad_enabled():
            self.untrained_forwards += 1
            return False
        self.training_forwards += 1
        if self._finite is not None:
            self._finite.before_forward(args, kwargs)
        if self._opt is None:
            self._end_step()
            self._begin_step(self.step + 1)
        elif self._captured and not self._skip_checked:
            self._check_skipped()
        self.last_forward_step = self.step
        if self._stats is not None and not self._captured:
            self._open_capture(module, path, args, kwargs)
        if self._opt is None and self._entry.probing and \
                self._entry.forwards_seen() + 1 >= DECIDE_AFTER_FORWARDS:
            self._entry.fix_pending = True
        return True

    def _open_capture(
        self, module: nn.Module, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        stats = self._stats
        assert stats is not None
        if self._opt is None:
            for lay in self._layers:
                if lay.params:
                    stats.add(lay.name, "weight", [p for _, p in lay.params])
        self._signals.modes = eval_modules(self._layers, self.model)
        self._capture = ForwardCapture(
            stats,
            [lay for lay in self._layers if self._under(lay, name)],
            self.root_name,
            entry=next((lay for lay in self._layers if lay.module is module), None),
            activation_grads=self.activation_grads,
            note_order=self._note_order,
            hooks=not self.compiled,
        )
        self._capture.open(args, kwargs)
        if self._tx is not None:
            self._tx.open(stats, module)

    def _under(self, lay: Layer, name: str) -> bool:
        """Whether a leaf layer runs inside the forward of the entry called ``name``."""
        if not lay.is_leaf or lay.module is self.model:
            return False
        if not name:
            return True
        prefix = f"{self.name}.{name}" if self.name else name
        return lay.name.startswith(prefix + ".")

    def _forward_end(self, module: nn.Module, path: str, args: tuple[Any, ...],
                     kwargs: dict[str, Any], output: Any) -> None:
        if self._capture is not None:
            capture, self._capture = self._capture, None
            out = capture.close(output)
            if self._tx is not None:
                self._tx.close(output)
            self._captured = True
            if out is not None and out.requires_grad:
                self._backward_queued = False
                out.register_hook(self._queue_backward_end)
        if self._finite is not None and not self._finite.reported:
            if not self._finite.after_forward(output):
                self._locate_nonfinite(module)
        if self._graph_pending:
            # Recorded when the step ends (after backward), so nothing the recorder does can
            # disturb tensors autograd saved for this step's backward.
            self._graph_pending = False
            self._first_call = (module, path, args, kwargs)

    # -- backward --------------------------------------------------------------------------
    def _queue_backward_end(self, _grad: torch.Tensor) -> None:
        if not self._backward_queued:
            self._backward_queued = True
            torch.autograd.Variable._execution_engine.queue_callback(self._backward_end)

    def _backward_end(self) -> None:
        self._backward_done = True
        stats = self._stats
        if stats is None or self._grads_read:
            return
        if self._opt is None or self._grads_at_backward_end:
            grads.add_grads(stats, self._layers)
            self._grads_read = True

    def _check_skipped(self) -> None:
        """A second forward in a step whose gradients were reset without an optimizer step."""
        if not self._backward_done:
            return
        self._skip_checked = True
        if not grads.any_grad(self._layers):
            self._signals.skipped = True

    # -- optimizer -------------------------------------------------------------------------
    def _use_optimizer(self, opt: torch.optim.Optimizer, hooks: bool) -> None:
        self._opt = opt
        self._opt_ids = {id(p) for g in opt.param_groups for p in g["params"]}
        if hooks:
            self._opt_handles = [
                opt.register_step_pre_hook(self.optimizer_pre),
                opt.register_step_post_hook(self.optimizer_post),
            ]

    def offer_optimizer(self, optimizer: torch.optim.Optimizer) -> bool:
        """Called by the hub for every optimizer step in the process: is it ours?"""
        if self._opt is not None:
            return optimizer is self._opt
        if not owns(optimizer, self._param_ids):
            return False
        self._use_optimizer(optimizer, hooks=False)
        if self._stats is not None and self._grads_read:
            self._stats.drop("grad")  # read at backward end before the optimizer was known
            self._grads_read = False
        return True

    def optimizer_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """Before the update: gradients as the optimizer will use them, and a snapshot."""
        stats = self._stats
        if self._busy or stats is None:
            return
        self._opt_ids = {id(p) for g in optimizer.param_groups for p in g["params"]}
        if self._carried is not None:
            self._carried.remove()
        # torch passes step()'s own positional arguments, ``self`` first.
        closure = kwargs.get("closure") if kwargs else None
        closure = closure if closure is not None else (args[1] if len(args) > 1 else None)
        if not self._grads_read:
            if closure is not None:
                self._grads_at_backward_end = True  # the backward runs inside step()
            else:
                grads.add_grads(stats, self._layers)
                self._grads_read = True
        self._snapshot = grads.weights_and_snapshot(stats, self._layers, self._opt_ids)

    def optimizer_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        """After the update: update statistics, then this step ends."""
        if self._busy:
            return
        stats = self._stats
        if stats is not None and self._snapshot:
            grads.add_updates(stats, self._layers, self._snapshot, self._opt_ids)
        self._snapshot = {}
        self.optimizer_steps += 1
        self._entry.fix()
        if stats is not None and self._carried is not None:
            self._signals.carried(stats, self._carried)
        self._end_step(trained=True)
        self._begin_step(self.step + 1)

    # -- step lifecycle --------------------------------------------------------------------
    def _begin_step(self, step: int) -> None:
        self.step = step
        self._step_end.drain(block=False)
        self._captured = self._grads_read = self._grads_at_backward_end = False
        self._backward_done = self._skip_checked = False
        if not self.schedule(step):
            return  # an unsampled step: nothing more to prepare
        self._signals = StepSignals()
        hist = self.histograms and (self._histogram_schedule is None
                                    or self._histogram_schedule(step))
        self._stats = StepStats(step, self.bins, hist)
        if self._opt is not None:
            self._carried = grads.CarriedGradCheck(
                [(lay.name, grads.trainable(lay)) for lay in self._layers if grads.trainable(lay)]
            )

    def _end_step(self, trained: bool | None = None) -> None:
        """Hand the finished step's statistics and events to the sinks."""
        if self._first_call is not None and self._on_first_forward is not None:
            call, self._first_call = self._first_call, None
            with self._quiet():
                self._on_first_forward(*call)
        if self._carried is not None:
            self._carried.remove()
            self._carried = None
        stats, self._stats = self._stats, None
        if stats is None or (not stats and self._reducer is None):
            return  # every rank reduces every sampled step, even an empty one
        trained = self._backward_done if trained is None else trained
        if self._tx_steps is not None:
            self._tx_steps.ended(stats, self._runner())
        self._step_end.hand_over(EndedStep(stats, self._signals, trained, dict(self._order),
                                           list(self._layers), deferred=self._opt is None))

    def _write_step(self, step: int, rows: list[StatRow], hists: list[HistRow]) -> None:
        """The sink of an ended step: its rows, then its transformer statistics (collected with
        the step's one transfer, so they are read here).
        """
        self._sink(step, rows, hists)
        if self._tx_steps is not None:
            self._tx_steps.written(step)

    def _runner(self) -> nn.Module:
        """The module a probe batch runs through: the entry, unwrapped."""
        entry = self._entry.entry
        return self.model if entry is self.outer else unwrap_module(entry)

    @contextlib.contextmanager
    def _quiet(self) -> Iterator[None]:
        """The watch's own hooks ignore what runs inside (a probe, a replay, the graph)."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False

    # -- non-finite ------------------------------------------------------------------------
    def _locate_nonfinite(self, entry: nn.Module) -> None:
        assert self._finite is not None
        leaves = [(lay.name, lay.module) for lay in self._layers if lay.is_leaf]
        args, kwargs, rng = self._finite.last_call()
        with self._quiet():
            modules = replay_nonfinite(entry, leaves, args, kwargs, rng)
        self._emit(self._finite.forward_event(self.step, modules, self.root_name, self._layers))

    def report_nonfinite_loss(self, tag: str, value: float) -> None:
        """Called by the run when a logged loss is NaN/Inf before any forward output was."""
        if self._finite is None or self._finite.reported:
            return
        self._finite.reported = True
        self._emit(
            {
                "kind": "nonfinite",
                "step": max(self.last_forward_step or 0, 0),
                "layer": None,
                "data": {"source": "loss", "tag": tag, "value": str(value), "modules": []},
            }
        )

    def _emit(self, event: dict[str, Any]) -> None:
        if self._on_event is not None:
            self._on_event(event)

    # -- lifecycle -------------------------------------------------------------------------
    def end_step(self) -> None:
        """Flush pending statistics now (``run.flush``; a forward-clock step also ends here)."""
        if self._opt is None:
            self._end_step()
        self._step_end.drain(block=True)
        if self._first_call is not None and self._on_first_forward is not None:
            call, self._first_call = self._first_call, None
            with self._quiet():
                self._on_first_forward(*call)

    def close(self) -> None:
        """Flush pending statistics and remove every hook. Idempotent."""
        try:
            if self._opt is None or self._stats is not None:
                self._end_step()
            self._step_end.drain(block=True)
            if self._finite is not None:
                event = self._finite.flush_deferred()
                if event is not None:
                    self._emit(event)
            if self._tx_steps is not None:
                self._tx_steps.final_probe(self.last_forward_step, self._runner())
        finally:
            if self._tx is not None:
                self._tx.remove()
            if self._capture is not None:
                self._capture.remove()
                self._capture = None
            if self._carried is not None:
                self._carried.remove()
                self._carried = None
            self._entry.remove()
            for h in self._opt_handles:
                h.remove()
            self._opt_handles = []
            HUB.remove(self)

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
