"""A training run: metadata, scalars and the watched model's statistics, written crash-safely.

The :class:`Run` owns one :class:`~deepscope.store.writer.RunWriter` and at most one
:class:`~deepscope.capture.watcher.Watcher`. Exiting the ``with`` block with an exception, or an
uncaught exception at top level, marks the run ``crashed``; a killed process is detected by the
reader (dead pid). Everything logged up to the last flush (at most one second old) survives.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import nn

from deepscope.capture.distributed import rank_and_world
from deepscope.capture.probe import probe_arguments
from deepscope.capture.schedule import PRESETS, Every, Schedule, thinned
from deepscope.capture.watcher import Watcher
from deepscope.errors import DeepscopeError, InvalidArgumentError
from deepscope.lifecycle import exit_status, finish_on_exit, install_exit_hooks
from deepscope.run_args import (
    MAX_STEP,
    as_float,
    check_name,
    check_step,
    check_tag,
    check_watch_args,
    jsonable_config,
    short,
)
from deepscope.run_events import RunEvents
from deepscope.run_watches import NOTHING_AFTER_LOGS, Watches
from deepscope.store.rundir import slug
from deepscope.store.writer import EXACT_STEP, NullWriter, RunWriter

_err_console = Console(stderr=True)
#: Runs not finished yet. Held strongly: a run the script no longer references (``ds.init()
#: .watch(model)``, a run local to a function that raised) must still be finished at exit.
_wall = time.time
_ACTIVE: set[Run] = set()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


_STATUSES = ("finished", "crashed")


class Run:
    """One training run on disk. Create with :func:`deepscope.init`.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> with ds.init(name="mlp", config={"lr": 1e-3}) as run:  # doctest: +SKIP
        ...     run.watch(model, optimizer=opt)
        ...     for step, (x, y) in enumerate(loader):
        ...         ...
        ...         run.log({"train/loss": loss.item()}, step=step)

    """

    def __init__(
        self,
        name: str | None = None,
        dir: str | os.PathLike = "deepscope-runs",  # noqa: A002
        config: Mapping[str, Any] | None = None,
        flush_interval: float = 1.0,
    ):
        self.name = check_name(name) or "run"
        if not isinstance(flush_interval, (int, float)) or not flush_interval > 0:
            raise InvalidArgumentError(
                f"flush_interval must be > 0 seconds, got {short(flush_interval)}"
            )
        # Under torch.distributed one run per job: rank 0 writes, the others record nothing.
        self.rank, self.world_size = rank_and_world()
        meta = {
            "name": self.name,
            "config": jsonable_config(config),
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "git_commit": _git_commit(),
            "deepscope_version": _version(),
        }
        if self.world_size > 1:
            meta["distributed"] = {"world_size": self.world_size, "writer_rank": 0}
        self._config = meta["config"]
        self._log_calls = 0
        self._log_step = -1
        self._tags_ok: set[Any] = set()
        self._loss_tags: set[str] = set()
        self._finished = False
        install_exit_hooks()
        self._writer = self._make_writer(dir, meta, flush_interval)
        self._points = self._writer.points  # log()'s fast path appends here (see RunWriter)
        self._events = RunEvents(self._writer, self.path, self.rank)
        self._watches = Watches(self._writer, self._events)
        _ACTIVE.add(self)  # from here on an exit, an exception or SIGTERM finishes this run

    def _make_writer(
        self, root: str | os.PathLike, meta: dict[str, Any], flush_interval: float
    ) -> RunWriter | NullWriter:
        """Rank 0 creates the run (see ``store/rundir.py``); under a process group every rank
        learns its path, or rank 0's error, so no rank waits on a run that could not be made.
        """
        writer: RunWriter | NullWriter = NullWriter()
        outcome: str | DeepscopeError = str(Path(root) / slug(self.name))
        if self.rank == 0:
            try:
                writer = RunWriter.create(root, self.name, meta, flush_interval=flush_interval)
                outcome = str(writer.path)
            except DeepscopeError as err:
                outcome = err
        outcome = _from_rank0(outcome, self.rank)
        if isinstance(outcome, DeepscopeError):
            raise outcome
        self.path = Path(outcome)
        return writer

    # -- capture ---------------------------------------------------------------------------
    def watch(
        self,
        model: nn.Module,
        optimizer: Any = None,
        *,
        name: str | None = None,
        every: int | None = None,
        preset: str = "default",
        schedule: Schedule | None = None,
        histograms: bool | None = None,
        histogram_every: int | None = None,
        bins: int = 64,
        activation_grads: bool | None = None,
        diagnose: bool = True,
        on_nonfinite: str = "warn",
        log_graph: bool = True,
        transformer: bool = True,
        probe: Any = None,
        tokens: Any = None,
    ) -> Run:
        """Record weights, gradients, activations (and updates) of every layer of ``model``.

        Args:
            model: the root module, or a wrapper of it (DDP, FSDP, ``torch.compile``,
                accelerate): wrapper prefixes never appear in layer names.
            optimizer: the optimizer (or an accelerate/Lightning wrapper of it). Without it, the
                optimizer that owns the model's parameters is found, at the latest at its first
                ``step()``. With an optimizer a step is one optimizer step; otherwise one
                training forward.
            name: watch several models in one run (``"G"``, ``"D"``): layer names get the
                prefix ``"<name>."``; watching a name again replaces that watch.
            every: sample every N-th step (plus the first three); overrides the preset.
            preset: ``economy`` (every 50, no histograms), ``default`` (every 10), ``full``
                (every step, activation gradients).
            schedule: a ``step -> bool`` callable instead of ``every``.
            histograms: store histograms at sampled steps.
            histogram_every: histograms at every N-th sampled step (the first three always):
                5 with the ``default`` preset (every 50 steps), 1 when ``histograms=True`` is
                given or with ``full``.
            bins: number of histogram bins.
            activation_grads: also record gradients of layer outputs.
            diagnose: report problems while training (printed and stored in the run).
            on_nonfinite: ``warn`` (default), ``raise`` (stop with NonFiniteError) or ``ignore``.
            log_graph: record the architecture graph on the first training forward.
            transformer: for models with attention, record per-head attention statistics, the
                residual stream of each block and the output logits at sampled steps (a model
                without attention switches this off by itself after its first sampled step).
            probe: a small fixed batch (tensor, dict of keyword arguments, or tuple of
                arguments) whose attention patterns are stored every few sampled steps.
            tokens: the token strings of the probe's first sequence, or a tokenizer (anything
                with ``convert_ids_to_tokens``) to derive them from its ``input_ids``.

        Example:
            >>> run.watch(model, optimizer=opt, every=20)  # doctest: +SKIP
            >>> run.watch(gpt2, optimizer=opt, probe={"input_ids": ids[:1]},
            ...           tokens=tokenizer)  # doctest: +SKIP
            >>> run.watch(generator, optimizer=opt_g, name="G")  # doctest: +SKIP

        """
        check_watch_args(model, optimizer, every, preset, schedule, bins, on_nonfinite, name,
                         histogram_every)
        probe, tokens = probe_arguments(probe, tokens)
        p = PRESETS[preset]
        p_every = p.every if every is None else every
        if histogram_every is None:
            histogram_every = p.histogram_every if histograms is None else 1
        schedule = schedule or Every(p_every)
        key = name or ""
        self._watches.remove(key, self._log_calls)
        self._events.on_nonfinite = on_nonfinite
        diagnose = diagnose and self.rank == 0
        if diagnose:
            self._events.enable_diagnosis()
        watcher = Watcher(
            model,
            sink=self._watches.write_stats,
            optimizer=optimizer,
            name=name,
            schedule=schedule,
            histograms=p.histograms if histograms is None else histograms,
            histogram_schedule=thinned(schedule, histogram_every),
            bins=bins,
            activation_grads=p.activation_grads if activation_grads is None
            else activation_grads,
            check_nonfinite=on_nonfinite != "ignore" or diagnose,
            on_event=self._events.on_event,
            on_first_forward=functools.partial(self._watches.record_graph, key)
            if log_graph else None,
            on_step_end=self._events.live_check if diagnose else None,
            transformer=transformer,
            probe=probe,
            tokens=tokens,
            on_transformer=functools.partial(self._watches.write_transformer, key),
        )
        self._watches.add(key, watcher,
                          {"every": p_every, "preset": preset,
                           "histogram_every": histogram_every})
        return self

    def unwatch(self, name: str | None = None) -> None:
        """Remove every hook (of the watch called ``name``, or of all); pending statistics are
        written.
        """
        for key in list(self._watches.by_key) if name is None else [name or ""]:
            self._watches.remove(key, self._log_calls)

    @property
    def _watcher(self) -> Watcher | None:
        """The first watch (the one ``run.step`` and ``run.log`` follow)."""
        return self._watches.first

    @property
    def _watchers(self) -> dict[str, Watcher]:
        return self._watches.by_key

    def _write_stats(self, step: int, rows: list, hists: list) -> None:
        """Statistics recorded outside ``watch`` (the Keras adapter), written like a watch's."""
        self._watches.write_stats(step, rows, hists)

    @property
    def step(self) -> int:
        """The current training step (of the first watch; log calls without a watch)."""
        w = self._watcher
        if w is not None and w.last_forward_step is not None:
            return w.last_forward_step
        return max(self._log_step, 0)

    def _default_step(self) -> int:
        w = self._watcher
        if w is not None and w.last_forward_step is not None:
            return w.last_forward_step
        return self._log_step + 1

    def log_graph(
        self, model: nn.Module, example_inputs: Any = None, *, input_size: Any = None
    ) -> None:
        """Store the architecture graph of ``model`` (shapes from ``example_inputs``)."""
        from deepscope.graph import build_graph

        self._writer.set_graph(build_graph(model, example_inputs, input_size=input_size).to_dict())
        self._watches.graph_given()

    # -- scalars and artifacts -------------------------------------------------------------
    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log scalar metrics at ``step`` (default: the current training step).

        The common call (a dict of finite floats under names seen before, an int step) appends
        each point to its name's list in the training thread, under a microsecond
        (``bench/store.py``); encoding and writing happen in the writer's thread.

        Example:
            >>> run.log({"train/loss": 0.31, "train/acc": 0.9}, step=120)  # doctest: +SKIP

        """
        if step is None:
            step = self._default_step()
        points = self._points
        if type(metrics) is dict and type(step) is int and 0 <= step <= EXACT_STEP:
            for tag, v in metrics.items():
                # A column exists for a checked name only; v - v is NaN for NaN and Inf only.
                if type(v) is not float or tag not in points or v - v != 0.0:
                    break
            else:
                if step > self._log_step:
                    self._log_step = step
                self._log_calls += 1
                if self._log_calls == NOTHING_AFTER_LOGS:
                    self._check_captured()
                wall = _wall()
                for tag, v in metrics.items():
                    points[tag].extend((step, v, wall))  # one C call: never half a point
                return
        self._log_checked(metrics, step)

    def _log_checked(self, metrics: Any, step: Any) -> None:
        """:meth:`log` of a call off its fast path: new names, non-float or non-finite values,
        another mapping, a step to check, a finished run.
        """
        if type(metrics) is not dict and not isinstance(metrics, Mapping):
            raise InvalidArgumentError(
                "log() takes a dict of metrics such as {'train/loss': 0.31}, got "
                f"{type(metrics).__name__}"
            )
        if type(step) is not int or not 0 <= step <= MAX_STEP:
            step = check_step(step)
        values = self._clean_metrics(metrics)
        if self._finished:
            _warn_once(self, f"run {self.path.name} is finished; log() calls after finish() are "
                             "not recorded")
            return
        if step > self._log_step:
            self._log_step = step
        self._log_calls += 1
        if self._log_calls == NOTHING_AFTER_LOGS:
            self._check_captured()
        self._writer.log_clean_scalars(step, values)  # creates the columns of new names
        losses = self._loss_tags
        for tag, v in values.items():
            if v - v != 0 and tag in losses:  # NaN or Inf (v - v is NaN only then)
                self._on_loss_nonfinite(tag, v, step)
                break

    def _check_captured(self) -> None:
        for w in self._watchers.values():
            self._watches.check_captured(w, self._log_calls)

    def _clean_metrics(self, metrics: Mapping[Any, Any]) -> dict[str, float]:
        known = self._tags_ok
        values: dict[str, float] = {}
        for tag, v in metrics.items():
            if type(v) is not float:
                v = as_float(tag, v)
            if tag not in known:  # checked once per name, not on every call
                tag = check_tag(tag)
                known.add(tag)
                if "loss" in tag.lower():
                    self._loss_tags.add(tag)
            values[tag] = v
        return values

    def _on_loss_nonfinite(self, tag: str, value: float, step: int) -> None:
        if self._watchers:
            for w in self._watchers.values():
                w.report_nonfinite_loss(tag, value)
        else:
            self._events.loss_nonfinite(tag, value, step)

    def log_artifact(self, result: Any, name: str | None = None, step: int | None = None) -> None:
        """Store an explain result (anything with ``to_artifact() -> (kind, data, blobs)``)."""
        if not hasattr(result, "to_artifact"):
            raise InvalidArgumentError(
                f"{type(result).__name__} cannot be stored: it has no to_artifact()"
            )
        kind, data, blobs = result.to_artifact()
        self._writer.add_artifact(
            name or kind, kind, data, blobs, self.step if step is None else step
        )

    def log_config(self, config: Mapping[str, Any]) -> None:
        """Add entries to the run's config (hyperparameters a framework reports after ``init``).

        Example:
            >>> run.log_config({"batch_size": 32})  # doctest: +SKIP

        """
        self._config = {**self._config, **jsonable_config(config)}
        self._writer.update_meta(config=self._config)

    # -- lifecycle -------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything recorded so far to disk (pending statistics included) and wait."""
        if self._finished:
            return
        for w in self._watchers.values():
            w.end_step()
        self._writer.flush()

    def finish(
        self, status: str = "finished", error: str | None = None, *, exit_code: int | None = None
    ) -> None:
        """Flush everything and mark the run complete on disk. Idempotent.

        Args:
            status: ``finished``, or ``crashed`` for a run that did not end well.
            error: one line saying what went wrong.
            exit_code: the process's exit status, when it is exiting.

        """
        if status not in _STATUSES:
            raise InvalidArgumentError(f"status must be 'finished' or 'crashed', got {status!r}")
        if self._finished:
            return
        self._mark_finished()
        try:
            self.unwatch()
        finally:
            self._events.close()
            extra = {} if exit_code is None else {"exit_code": exit_code}
            self._writer.close(status=status, error=error, extra=extra)

    def _mark_finished(self) -> None:
        self._finished = True
        self._points = {}  # every later log() takes the checked path, which says it is ignored
        _ACTIVE.discard(self)

    def _terminate(self, signum: int) -> None:
        """On a termination signal: write what is queued and mark the run crashed, at once.

        Hooks are left to the interpreter's exit: the signal may arrive inside one.
        """
        if self._writer.closed:  # finish() has queued its final status: let it land
            self._writer.wait_closed()
            return
        self._mark_finished()
        name = _signal_name(signum)
        self._writer.close(status="crashed", error=f"terminated by {name}",
                           extra={"exit_code": 128 + signum})

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is None:
            self.finish()
        elif isinstance(exc, KeyboardInterrupt):
            self.finish("crashed", "interrupted")
        elif isinstance(exc, SystemExit):
            code = exit_status(exc.code)
            self.finish("finished" if code == 0 else "crashed",
                        None if code == 0 else f"exited with status {code}", exit_code=code)
        else:
            self.finish("crashed", f"{type(exc).__name__}: {exc}")

    def __repr__(self) -> str:
        return f"Run(name={self.name!r}, path='{self.path}')"


def _from_rank0(value: Any, rank: int) -> Any:
    """Rank 0's ``value`` on every rank of an initialised process group (``value`` elsewhere)."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            box = [value if rank == 0 else None]
            dist.broadcast_object_list(box, src=0)  # our own ranks' objects, not foreign data
            return box[0]
    except (ImportError, RuntimeError):
        pass
    return value


def _warn_once(run: Run, message: str) -> None:
    if not getattr(run, "_warned_finished", False):
        run._warned_finished = True  # type: ignore[attr-defined]
        _err_console.print(f"[bold yellow]deepscope[/]: {message}", highlight=False)


def _signal_name(signum: int) -> str:
    import signal

    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("deepscope")
    except Exception:  # noqa: BLE001
        return "0.0.0"


def _on_exit(exit_code: int | None = None) -> None:
    for run in list(_ACTIVE):
        if exit_code:
            run.finish("crashed", f"exited with status {exit_code}", exit_code=exit_code)
        else:
            run.finish(exit_code=exit_code)


def _on_exception(tp: Any, value: BaseException) -> None:
    for run in list(_ACTIVE):
        run.finish("crashed", f"{tp.__name__}: {value}", exit_code=1)


def _on_signal(signum: int) -> None:
    for run in list(_ACTIVE):
        run._terminate(signum)


finish_on_exit(_on_exit, _on_exception, _on_signal)


def init(
    name: str | None = None,
    dir: str | os.PathLike = "deepscope-runs",  # noqa: A002
    config: Mapping[str, Any] | None = None,
) -> Run:
    """Start a run in a new directory under ``dir``.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> run = ds.init(name="cnn", dir="deepscope-runs", config={"lr": 1e-3})  # doctest: +SKIP
        >>> run.path  # doctest: +SKIP
        PosixPath('deepscope-runs/cnn-baseline-20261122-101500-ab12')

    """
    return Run(name=name, dir=dir, config=config)
