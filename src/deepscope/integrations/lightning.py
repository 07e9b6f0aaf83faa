"""Lightning adapter: ``Trainer(logger=DeepscopeLogger(...), callbacks=[DeepscopeCallback()])``.

:class:`DeepscopeLogger` is a Lightning ``Logger``: everything ``self.log(...)`` logs lands in
the run under the name it was logged with (Lightning's own step axis: batches that stepped the
optimizer, from 0), hyperparameters (``save_hyperparameters()``) become the run's config, and a
failure Lightning reports ends the run as ``crashed``; a successful fit only flushes, so a later
``trainer.test()`` logs into the same run, which finishes at exit (or with
``logger.experiment.finish()``). :class:`DeepscopeCallback` watches the ``LightningModule``
with the Trainer's optimizer from ``on_train_start``; with a :class:`DeepscopeLogger` it records
into the logger's run, without one into a run of its own, where it also logs the loss that
``training_step`` returns as ``train/loss``. Scalars are written by rank zero only (Lightning's
``rank_zero_only``); every rank watches, as distributed capture requires.
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from deepscope.integrations._common import INIT_ARGS, numeric, require, watch_kwargs
from deepscope.run import Run, init

try:
    from lightning.pytorch.callbacks import Callback as _Callback
    from lightning.pytorch.loggers.logger import Logger as _Logger
    from lightning.pytorch.loggers.logger import rank_zero_experiment
    from lightning.pytorch.utilities import rank_zero_only
except ImportError:  # the constructors say how to install it
    _Callback = _Logger = object  # type: ignore[assignment,misc]

    def rank_zero_experiment(fn: Any) -> Any:  # noqa: D103
        return fn

    def rank_zero_only(fn: Any) -> Any:  # noqa: D103
        return fn


def _need_lightning(what: str) -> None:
    require("lightning.pytorch", "lightning", f"deepscope.integrations.lightning.{what}")


def flat_params(params: Mapping[str, Any] | Namespace, prefix: str = "") -> dict[str, Any]:
    """Hyperparameters as one flat dict (nested dicts joined with ``/``).

    Example:
        >>> flat_params({"lr": 0.1, "net": {"width": 64}})
        {'lr': 0.1, 'net/width': 64}

    """
    items = vars(params) if isinstance(params, Namespace) else dict(params)
    out: dict[str, Any] = {}
    for key, value in items.items():
        name = f"{prefix}{key}"
        if isinstance(value, (Mapping, Namespace)):
            out.update(flat_params(value, f"{name}/"))
        else:
            out[name] = value
    return out


class DeepscopeLogger(_Logger):
    """A Lightning logger that writes into a deepscope run (created at first use, rank zero).

    Args:
        name: run name (default ``"lightning"``).
        dir: directory that holds the runs.
        config: config entries; hyperparameters Lightning reports are merged in.

    Example:
        >>> logger = DeepscopeLogger(name="digits-mlp")  # doctest: +SKIP
        >>> trainer = L.Trainer(logger=logger, callbacks=[DeepscopeCallback()])  # doctest: +SKIP
        >>> trainer.fit(module, loader)  # doctest: +SKIP
        >>> ds.diagnose(logger.experiment)  # doctest: +SKIP

    """

    def __init__(
        self,
        name: str | None = None,
        dir: str = "deepscope-runs",  # noqa: A002 - the ds.init keyword
        config: Mapping[str, Any] | None = None,
    ) -> None:
        _need_lightning("DeepscopeLogger")
        super().__init__()
        values = (name or "lightning", dir, dict(config or {}))
        self._init = dict(zip(INIT_ARGS, values, strict=True))
        self._run: Run | None = None

    @property
    def name(self) -> str:
        return str(self._init["name"])

    @property
    def version(self) -> str | None:
        """The run directory's name (Lightning puts checkpoints under ``<name>/<version>``)."""
        path = getattr(self.experiment, "path", None)
        return None if path is None else path.name

    @property
    def save_dir(self) -> None:
        # None: Lightning keeps checkpoints under default_root_dir, out of the runs directory.
        return None

    @property
    @rank_zero_experiment
    def experiment(self) -> Run:
        """The deepscope run (a placeholder on ranks other than zero)."""
        if self._run is None:
            self._run = init(**self._init)
        return self._run

    @rank_zero_only
    def log_hyperparams(self, params: Mapping[str, Any] | Namespace, *args: Any, **kw: Any) -> None:
        self.experiment.log_config(flat_params(params or {}))

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        values = numeric(metrics)
        if values:
            self.experiment.log(values, step=step)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        # Lightning finalizes after every fit / validate / test, and a test after fit logs into
        # the same logger: success only flushes (the run finishes at exit, or with
        # ``logger.experiment.finish()``); a failure ends the run as crashed.
        if self._run is None:
            return
        if status == "failed":
            self._run.finish("crashed", "Lightning reported that training failed")
        else:
            self._run.flush()


class DeepscopeCallback(_Callback):
    """Watch the ``LightningModule`` (weights, gradients, activations of every layer).

    Args:
        name: run name when there is no :class:`DeepscopeLogger` (default: the module's class).
        dir: directory that holds the runs (same condition).
        config: config entries (same condition).
        **watch: ``run.watch`` arguments (``every``, ``preset``, ``histograms``, ...).

    Attributes:
        run: the run being recorded (None before training starts).

    Example:
        >>> L.Trainer(callbacks=[DeepscopeCallback(every=5)]).fit(module, loader)  # doctest: +SKIP

    """

    def __init__(
        self,
        name: str | None = None,
        dir: str = "deepscope-runs",  # noqa: A002 - the ds.init keyword
        config: Mapping[str, Any] | None = None,
        **watch: Any,
    ) -> None:
        _need_lightning("DeepscopeCallback")
        self._init = dict(zip(INIT_ARGS, (name, dir, dict(config or {})), strict=True))
        self._watch = watch_kwargs(watch)
        self.run: Run | None = None
        self._owns_run = False

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        logger = next((lg for lg in trainer.loggers if isinstance(lg, DeepscopeLogger)), None)
        run = logger.experiment if logger is not None else None
        self._owns_run = not isinstance(run, Run)
        if self._owns_run:
            name = self._init["name"] or type(pl_module).__name__
            run = init(name=name, dir=self._init["dir"], config=self._init["config"])
        self.run = run
        optimizers = list(trainer.optimizers)
        optimizer = optimizers[0] if len(optimizers) == 1 else None
        run.watch(pl_module, optimizer=optimizer, **self._watch)

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if not self._owns_run or self.run is None or trainer.global_rank != 0:
            return
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        values = numeric({"train/loss": loss})
        if values:
            self.run.log(values, step=max(int(trainer.global_step) - 1, 0))

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.run is not None:
            self.run.unwatch()
            if self._owns_run:
                self.run.finish("finished")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.run is not None:
            self.run.finish("crashed", f"{type(exception).__name__}: {exception}")
