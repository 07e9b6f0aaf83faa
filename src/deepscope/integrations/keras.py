"""Keras 3 adapter (torch backend): ``model.fit(..., callbacks=[DeepscopeCallback()])``.

``run.watch`` cannot see a Keras model's layers (torch sees one ``ParameterDict`` per model), so
this callback captures through Keras' own layers (:mod:`deepscope.integrations._keras_layers`)
with deepscope's statistics engine (:class:`~deepscope.capture.stats.StepStats`). Where each
quantity is read, without patching Keras (the torch trainer's ``train_step``: forward, backward,
``optimizer.apply``):

* weights: every layer's own variables at ``on_train_batch_begin`` (before the step's update);
* activations and the root input / output: torch forward hooks on the Keras layers (each is an
  ``nn.Module``), attached for the training forward of a sampled step only;
* gradients: ``variable.value.grad`` at ``on_train_batch_end`` (Keras zeroes them at the start of
  the next step, not after ``apply``), divided by the loss scale ``train_step`` applied
  (``LossScaleOptimizer``, ``loss_scale_factor``) so they are the gradients the optimizer uses;
* updates: the variables after the step minus a copy taken before it.

Scalars come from Keras' ``logs`` as ``train/<metric>``, epoch logs' ``val_<metric>`` as
``val/<metric>`` (``accuracy`` shortened to ``acc``), all at the 0-based index of the optimizer
step. Keras' batch logs are running means over the epoch so far, smooth within an epoch and
reset at its start (a saw-tooth the loss rules would read as spikes and plateaus), so a logged
metric that is a Keras ``Mean`` (the loss, accuracy and the other mean metrics) is recorded as
that batch's own value: the change of its ``total`` over the change of its ``count``
(:class:`BatchValues`). Other metrics (AUC, precision) are recorded as logged. The graph is the
Keras layer structure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from deepscope.capture.schedule import PRESETS, Every, Schedule, thinned
from deepscope.capture.stats import StepStats
from deepscope.errors import InvalidArgumentError
from deepscope.integrations._common import (
    INIT_ARGS,
    NOT_ENDED,
    OPEN_RUNS,
    metric_tag,
    numeric,
    require,
)
from deepscope.integrations._keras_layers import KerasLayer, build_graph, discover
from deepscope.run import Run, init
from deepscope.store.schema import ROOT_LAYER

try:
    from keras.callbacks import Callback as _Base
except ImportError:  # the constructor says how to install it
    _Base = object  # type: ignore[assignment,misc]

#: The ``run.watch`` arguments that apply to Keras models.
KERAS_WATCH_ARGS = ("every", "preset", "schedule", "histograms", "histogram_every", "bins",
                    "activation_grads", "log_graph")


def keras_tag(key: str, *, epoch: bool = False) -> str | None:
    """The deepscope tag of a Keras log key (None: an epoch log that repeats the batch logs).

    Example:
        >>> keras_tag("loss"), keras_tag("val_accuracy", epoch=True), keras_tag("loss", epoch=True)
        ('train/loss', 'val/acc', None)

    """
    if key.startswith("val_"):
        return metric_tag("val", key[4:])
    if key == "learning_rate":
        return "train/learning_rate"
    return None if epoch else metric_tag("train", key)


def _keras() -> Any:
    keras = require("keras", "keras", "deepscope.integrations.keras.DeepscopeCallback")
    backend = keras.backend.backend()
    if backend != "torch":
        raise InvalidArgumentError(
            f"deepscope's Keras callback needs the torch backend, not {backend!r}: set "
            "KERAS_BACKEND=torch before importing keras"
        )
    return keras


class DeepscopeCallback(_Base):
    """Record a Keras ``fit``: per-layer weights, gradients, activations, updates; logs; graph.

    Args:
        name: run name (default: the model's name).
        dir: directory that holds the runs.
        config: config entries (merged over the optimizer's config and ``fit``'s parameters).
        every, preset, schedule, histograms, bins, activation_grads, log_graph: as in
            ``run.watch``.

    Attributes:
        run: the current :class:`~deepscope.run.Run` (None before ``fit`` starts).

    Example:
        >>> os.environ["KERAS_BACKEND"] = "torch"  # before importing keras  # doctest: +SKIP
        >>> cb = DeepscopeCallback(name="digits", every=10)  # doctest: +SKIP
        >>> model.fit(x, y, epochs=5, callbacks=[cb]); ds.diagnose(cb.run)  # doctest: +SKIP

    """

    def __init__(
        self,
        name: str | None = None,
        dir: str | os.PathLike = "deepscope-runs",  # noqa: A002 - the ds.init keyword
        config: Mapping[str, Any] | None = None,
        **watch: Any,
    ) -> None:
        _keras()
        super().__init__()
        unknown = sorted(set(watch) - set(KERAS_WATCH_ARGS))
        if unknown:
            raise InvalidArgumentError(
                f"argument {unknown[0]!r} does not apply to Keras models; the callback takes "
                f"{', '.join(INIT_ARGS + KERAS_WATCH_ARGS)}"
            )
        self._init = dict(zip(INIT_ARGS, (name, dir, dict(config or {})), strict=True))
        preset = watch.get("preset", "default")
        if preset not in PRESETS:
            raise InvalidArgumentError(
                f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}"
            )
        p = PRESETS[preset]
        self._schedule: Schedule = watch.get("schedule") or Every(watch.get("every") or p.every)
        hist = watch.get("histograms")
        self._histograms = p.histograms if hist is None else bool(hist)
        k = watch.get("histogram_every") or (p.histogram_every if hist is None else 1)
        self._histogram_schedule = thinned(self._schedule, int(k))
        grads = watch.get("activation_grads")
        self._activation_grads = p.activation_grads if grads is None else bool(grads)
        self._bins = int(watch.get("bins", 64))
        self._log_graph = bool(watch.get("log_graph", True))
        self.run: Run | None = None
        self._layers: list[KerasLayer] = []
        self._step = -1
        self._stats: StepStats | None = None
        self._before: dict[str, torch.Tensor] = {}
        self._hooks: list[Any] = []
        self._order: dict[str, int] = {}
        self._shapes: dict[str, list[int]] = {}
        self._graph_done = False
        self._scale = 1.0
        self._batch_values = BatchValues()

    # -- lifecycle -------------------------------------------------------------------------
    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.run is not None:
            OPEN_RUNS.ended(self.run, "crashed", NOT_ENDED)  # no-op if that fit ended
        model = self.model
        config = {**self._fit_config(model), **self._init["config"]}
        self.run = init(name=self._init["name"] or model.name, dir=self._init["dir"],
                        config=config)
        OPEN_RUNS.started(self.run)
        self._layers = discover(model)
        self._step, self._order, self._shapes, self._graph_done = -1, {}, {}, False
        self._batch_values.reset()
        self._write_layers()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._remove_hooks()
        if self.run is not None:
            self._write_layers()
            OPEN_RUNS.ended(self.run, "finished")

    def _fit_config(self, model: Any) -> dict[str, Any]:
        config: dict[str, Any] = {f"fit/{k}": v for k, v in (self.params or {}).items()}
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            config["optimizer"] = type(optimizer).__name__
            for key, value in optimizer.get_config().items():
                config[key] = value
            config.setdefault("lr", config.get("learning_rate"))
        return config

    # -- one step --------------------------------------------------------------------------
    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._step += 1
        if not self._schedule(self._step):
            return
        hist = self._histograms and self._histogram_schedule(self._step)
        stats = self._stats = StepStats(self._step, self._bins, hist)
        self._scale = loss_scale(getattr(self.model, "optimizer", None))
        self._before = {}
        for k in self._layers:
            values = [v.value for v in k.variables]
            if values:
                stats.add(k.name, "weight", values)
                trainable = [v.value for v in k.variables if v.trainable]
                if trainable:
                    self._before[k.name] = _flat(trainable).clone()
        self._attach(stats)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        stats, self._stats = self._stats, None
        if stats is not None:
            self._remove_hooks()
            self._add_grads_and_updates(stats)
            rows, hists = stats.collect()
            self.run._write_stats(self._step, rows, hists)
            if not self._graph_done:
                self._record_graph()
        logged = self._batch_values(getattr(self.model, "metrics", []), numeric(logs or {}))
        values = {tag: v for k, v in logged.items() if (tag := keras_tag(k))}
        if values and self.run is not None:
            self.run.log(values, step=self._step)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._batch_values.reset()  # fit resets the metrics at the start of each epoch

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        values = {t: v for k, v in numeric(logs or {}).items() if (t := keras_tag(k, epoch=True))}
        if values and self.run is not None:
            self.run.log(values, step=max(self._step, 0))

    def _add_grads_and_updates(self, stats: StepStats) -> None:
        for k in self._layers:
            trainable = [v.value for v in k.variables if v.trainable]
            if not trainable:
                continue
            grads = [p.grad for p in trainable if p.grad is not None]
            if grads and self._scale != 1.0:
                grads = [g / self._scale for g in grads]
            if grads:
                stats.add(k.name, "grad", grads)
            else:
                stats.add_missing(k.name, "grad")
            before = self._before.get(k.name)
            if before is not None:
                stats.add(k.name, "update", _flat(trainable) - before)
                stats.ratio(k.name, "update", "weight")
        self._before = {}

    # -- forward hooks ---------------------------------------------------------------------
    def _attach(self, stats: StepStats) -> None:
        root = self.model
        self._hooks.append(root.register_forward_pre_hook(
            lambda _m, args: _add_first(stats, ROOT_LAYER, "input", args)))
        self._hooks.append(root.register_forward_hook(
            lambda _m, _a, out: self._on_output(stats, ROOT_LAYER, out, None)))
        for k in self._layers:
            if not k.children:
                self._hooks.append(k.layer.register_forward_hook(
                    lambda _m, _a, out, k=k: self._on_output(stats, k.name, out, k)))

    def _on_output(self, stats: StepStats, name: str, out: Any, k: KerasLayer | None) -> None:
        t = _first_float(out)
        if t is None or not t.requires_grad:  # not the training forward
            return
        self._order.setdefault(name, len(self._order))
        self._shapes.setdefault(name, list(t.shape))
        if k is None:
            stats.add(name, "activation", t)
        else:
            stats.add(name, "activation", t, unit_dim=k.unit_dim, bounds=k.bounds)
        if self._activation_grads and k is not None:
            t.register_hook(lambda g: stats.add(name, "activation_grad", g))

    def _remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks.clear()

    # -- structure -------------------------------------------------------------------------
    def _write_layers(self) -> None:
        base = len(self._order)
        infos = [k.info(self._order.get(k.name, base + i)) for i, k in enumerate(self._layers)]
        self.run._writer.set_layers(sorted(infos, key=lambda info: info.order))

    def _record_graph(self) -> None:
        self._graph_done = True
        self._write_layers()  # forward order is known now
        if not self._log_graph:
            return
        try:
            graph = build_graph(self.model, self._layers, self._shapes)
            self.run._writer.set_graph(graph.to_dict())
        except Exception as err:  # noqa: BLE001 - the graph is optional, training must go on
            self.run._writer.add_event(
                "graph_failed", self._step, None, {"error": f"{type(err).__name__}: {err}"}
            )


class BatchValues:
    """Each batch's own value of the logged Keras ``Mean`` metrics, from their running state.

    A Keras ``Mean`` (the loss tracker and the mean-wrapped metrics) keeps a weighted ``total``
    and ``count`` since the epoch began; the batch's value is their change since the last batch.
    Both are float32, so the value is exact to ~1e-7 x the number of batches of the epoch so
    far (1e-4 relative at its thousandth batch).

    Example:
        >>> BatchValues()([], {"loss": 0.5, "auc": 0.9})  # no Mean metric: the logs as they are
        {'loss': 0.5, 'auc': 0.9}

    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}

    def reset(self) -> None:
        self._last = {}

    def __call__(self, metrics: list[Any], logged: dict[str, float]) -> dict[str, float]:
        out = dict(logged)
        for metric in _means(metrics):
            name = metric.name
            if name not in logged:
                continue
            total, count = float(metric.total.value), float(metric.count.value)
            last_total, last_count = self._last.get(name, (0.0, 0.0))
            if count < last_count:  # reset since (an evaluate in between)
                last_total, last_count = 0.0, 0.0
            self._last[name] = (total, count)
            if count > last_count:
                out[name] = (total - last_total) / (count - last_count)
            else:  # not updated by this batch: no value of its own
                out.pop(name)
        return out


def _means(metrics: list[Any]) -> list[Any]:
    """The Keras ``Mean`` metrics among ``metrics`` and the metrics they contain."""
    if not metrics:
        return []
    from keras.metrics import Mean

    found: list[Any] = []
    for metric in metrics:
        if isinstance(metric, Mean):
            found.append(metric)
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, list) and inner is not metrics:
            found.extend(_means(inner))
    return found


def loss_scale(optimizer: Any) -> float:
    """The factor ``train_step`` multiplies the loss by (``optimizer.scale_loss``): a
    ``LossScaleOptimizer``'s current dynamic scale, or ``loss_scale_factor``; gradients are
    recorded divided by it, as the optimizer sees them.
    """
    if optimizer is None:
        return 1.0
    scale = getattr(optimizer, "dynamic_scale", None)
    if scale is not None and getattr(optimizer, "built", False):
        return float(scale.value.item() if hasattr(scale, "value") else scale)
    if getattr(optimizer, "initial_scale", None) is not None and scale is not None:
        return float(optimizer.initial_scale)
    return float(getattr(optimizer, "loss_scale_factor", None) or 1.0)


def _flat(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().reshape(-1).float() for t in tensors])


def _first_float(obj: Any) -> torch.Tensor | None:
    stack = [obj]
    while stack:
        cur = stack.pop(0)
        if isinstance(cur, torch.Tensor):
            if cur.is_floating_point():
                return cur
        elif isinstance(cur, Mapping):
            stack[:0] = list(cur.values())
        elif isinstance(cur, (tuple, list)):
            stack[:0] = list(cur)
    return None


def _add_first(stats: StepStats, layer: str, kind: str, args: Any) -> None:
    x = _first_float(args)
    if x is not None and (layer, kind) not in stats:
        stats.add(layer, kind, x)
