"""Hugging Face ``transformers.Trainer`` adapter: ``Trainer(..., callbacks=[DeepscopeCallback()])``.

At ``on_train_begin`` the callback starts a run (config: the ``TrainingArguments``, then the
``config=`` given here), watches the model with the Trainer's optimizer (read from the hook
arguments; ``watch`` sees through accelerate's ``AcceleratedOptimizer``) and from then on maps
every Trainer log to the standard tags (:data:`TRAIN_TAGS`, :func:`hf_tag`). Scalars are
written by the main process only (``state.is_world_process_zero``); every process watches, as
distributed capture requires. The run ends with ``on_train_end`` (``finished``) or, since the
Trainer has no exception hook, as ``crashed`` when training raised (see
:mod:`deepscope.integrations._common`).

Steps: a Trainer log made after optimizer step ``global_step`` is stored at ``global_step - 1``,
the 0-based index of that optimizer step, the axis of the layer statistics.

``report_to="deepscope"`` is not offered: transformers resolves ``report_to`` names through a
fixed module-level table (``integrations.integration_utils.INTEGRATION_TO_CALLBACK``) and raises
``ValueError`` for any other name; adding to it would mean patching transformers.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch

from deepscope.integrations._common import (
    INIT_ARGS,
    NOT_ENDED,
    OPEN_RUNS,
    metric_tag,
    numeric,
    require,
    watch_kwargs,
)
from deepscope.run import Run, init

try:
    from transformers import TrainerCallback as _Base
except ImportError:  # the constructor says how to install it
    _Base = object  # type: ignore[assignment,misc]

#: Trainer keys of the per-step training logs and their deepscope tags.
TRAIN_TAGS = {
    "loss": "train/loss",
    "learning_rate": "train/learning_rate",
    "grad_norm": "train/grad_norm",
    "epoch": "train/epoch",
    "num_input_tokens_seen": "train/num_input_tokens_seen",
    "num_tokens": "train/num_tokens",
}
#: Prefixes ``Trainer.evaluate`` gives its metrics (``metric_key_prefix``): ``eval_loss``.
EVAL_PREFIXES = ("eval", "test", "val", "validation")


def hf_tag(key: str) -> str:
    """The deepscope tag of one Trainer log key.

    The end-of-training summary (``train_loss``, ``train_runtime``, ``total_flos``, ...) goes to
    ``summary/``, so the once-logged mean ``train_loss`` never shadows the per-step series.

    Example:
        >>> [hf_tag(k) for k in ("loss", "eval_loss", "eval_accuracy", "train_loss", "foo")]
        ['train/loss', 'eval/loss', 'eval/acc', 'summary/train_loss', 'train/foo']

    """
    if key in TRAIN_TAGS:
        return TRAIN_TAGS[key]
    if key == "total_flos" or key.startswith("train_"):
        return f"summary/{key}"
    head, sep, rest = key.partition("_")
    if sep and rest and head in EVAL_PREFIXES:
        return metric_tag(head, rest)
    return f"train/{key}"


def trainer_optimizer(optimizer: Any) -> Any:
    """The optimizer to watch: the Trainer's own (``watch`` sees through accelerate's
    ``AcceleratedOptimizer``), or None for GaLore's per-layer placeholder, whose real optimizers
    step inside gradient hooks and are found at their first step.
    """
    if optimizer is None or type(optimizer).__name__ == "LayerWiseDummyOptimizer":
        return None
    return optimizer


def training_config(args: Any) -> dict[str, Any]:
    """``TrainingArguments`` as a flat config (transformers masks tokens in ``to_dict``)."""
    to_dict = getattr(args, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {}


class DeepscopeCallback(_Base):
    """Record a ``transformers.Trainer`` run: per-layer statistics, Trainer logs, config.

    Args:
        name: run name (default: ``TrainingArguments.run_name``, else the model class).
        dir: directory that holds the runs.
        config: extra config entries (merged over the ``TrainingArguments``).
        **watch: ``run.watch`` arguments (``every``, ``preset``, ``histograms``, ...).

    Attributes:
        run: the current :class:`~deepscope.run.Run` (None before training starts).

    Example:
        >>> from deepscope.integrations.hf import DeepscopeCallback  # doctest: +SKIP
        >>> cb = DeepscopeCallback(name="bert-tiny", every=10)  # doctest: +SKIP
        >>> Trainer(model, args, train_dataset=ds, callbacks=[cb]).train()  # doctest: +SKIP
        >>> ds.diagnose(cb.run).findings  # doctest: +SKIP

    """

    def __init__(
        self,
        name: str | None = None,
        dir: str = "deepscope-runs",  # noqa: A002 - the ds.init keyword
        config: Mapping[str, Any] | None = None,
        **watch: Any,
    ) -> None:
        require("transformers", "hf", "deepscope.integrations.hf.DeepscopeCallback")
        self._init = dict(zip(INIT_ARGS, (name, dir, dict(config or {})), strict=True))
        self._watch = watch_kwargs(watch)
        self.run: Run | None = None
        self._ended = True
        self._warned_late = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is not None and not self._ended:
            OPEN_RUNS.ended(self.run, "crashed", NOT_ENDED)
        model = kwargs.get("model")
        name = self._init["name"] or getattr(args, "run_name", None) or type(model).__name__
        config = {**training_config(args), **self._init["config"]}
        self.run = init(name=name, dir=self._init["dir"], config=config)
        self._ended, self._warned_late = False, False
        OPEN_RUNS.started(self.run)
        if isinstance(model, torch.nn.Module):
            optimizer = trainer_optimizer(kwargs.get("optimizer"))
            self.run.watch(model, optimizer=optimizer, **self._watch)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.run is None or not logs or not state.is_world_process_zero:
            return
        if self._ended:
            self._warn_late()
            return
        values = {hf_tag(k): v for k, v in numeric(logs).items()}
        if values:
            self.run.log(values, step=max(int(state.global_step) - 1, 0))

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is not None and not self._ended:
            self._ended = True
            OPEN_RUNS.ended(self.run, "finished")

    def _warn_late(self) -> None:
        if not self._warned_late:
            self._warned_late = True
            warnings.warn(
                "deepscope: the run ended with training; metrics logged after train() (e.g. a "
                "later trainer.evaluate()) are not recorded - evaluate during training with "
                "eval_strategy instead",
                stacklevel=3,
            )
