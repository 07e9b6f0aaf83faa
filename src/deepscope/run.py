"""A training run: metadata, scalars and the watched model's statistics, written crash-safely.

The :class:`Run` owns one :class:`~deepscope.store.writer.RunWriter` and at most one
:class:`~deepscope.capture.watcher.Watcher`. Exiting the ``with`` block with an exception, or an
uncaught exception at top level, marks the run ``crashed``; a killed process is detected by the
reader (dead pid). Everything logged up to the last flush (at most one second old) survives.
"""

from __future__ import annotations

import functools
import math
import os
import platform
import re
import subprocess
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch import nn

from deepscope.capture.distributed import rank_and_world
from deepscope.capture.probe import probe_arguments
from deepscope.capture.schedule import PRESETS, Every, Schedule
from deepscope.capture.signals import nothing_captured
from deepscope.capture.transformer import merge_info
from deepscope.capture.watcher import Watcher
from deepscope.capture.wrappers import unwrap_module as unwrap
from deepscope.errors import DeepscopeError, InvalidArgumentError, NonFiniteError
from deepscope.lifecycle import exit_status, finish_on_exit, install_exit_hooks
from deepscope.run_args import (
    as_float,
    check_name,
    check_step,
    check_tag,
    jsonable_config,
    short,
)
from deepscope.store.rundir import slug
from deepscope.store.writer import NullWriter, RunWriter

_LIVE_INTERVAL_S = 2.0
#: A watch that has seen no training forward by this many ``log`` calls is reported.
_NOTHING_AFTER_LOGS = 50
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")
_err_console = Console(stderr=True)
_ACTIVE: weakref.WeakSet[Run] = weakref.WeakSet()


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
        self._watchers: dict[str, Watcher] = {}
        self._watch_meta: dict[str, dict[str, Any]] = {}
        self._graphs: dict[str, tuple[str, dict[str, Any]]] = {}
        self._transformer_info: dict[str, dict[str, Any]] = {}
        self._nothing_reported: set[str] = set()
        self._log_calls = 0
        self._log_step = -1
        self._tags_ok: set[Any] = set()
        self._monitor: Any = None
        self._reader: Any = None
        self._last_live = 0.0
        self._on_nonfinite = "warn"
        self._finished = False
        install_exit_hooks()
        self._writer = self._make_writer(dir, meta, flush_interval)
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
        _check_watch_args(model, optimizer, every, preset, schedule, bins, on_nonfinite)
        if preset not in PRESETS:
            raise InvalidArgumentError(
                f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}"
            )
        if on_nonfinite not in ("warn", "raise", "ignore"):
            raise InvalidArgumentError("on_nonfinite must be 'warn', 'raise' or 'ignore'")
        if not isinstance(model, nn.Module):
            raise InvalidArgumentError(
                f"watch() needs a torch.nn.Module, got {type(model).__name__}"
            )
        if any(c.__module__.startswith("keras.") for c in type(model).__mro__):
            raise InvalidArgumentError(
                "a Keras model's layers are not torch submodules: record it with "
                "model.fit(..., callbacks=[deepscope.integrations.keras.DeepscopeCallback()])"
            )
        if name is not None and (not isinstance(name, str) or not _NAME_RE.fullmatch(name)):
            raise InvalidArgumentError(
                f"watch(name=...) must be a short identifier such as 'G' or 'encoder', got {name!r}"
            )
        probe, tokens = probe_arguments(probe, tokens)
        p_every, p_hist, p_agrads = PRESETS[preset]
        key = name or ""
        self._unwatch_one(key)
        self._on_nonfinite = on_nonfinite
        diagnose = diagnose and self.rank == 0
        if diagnose and self._monitor is None:
            self._monitor = _make_monitor()
        watcher = Watcher(
            model,
            sink=self._write_stats,
            optimizer=optimizer,
            name=name,
            schedule=schedule or Every(p_every if every is None else every),
            histograms=p_hist if histograms is None else histograms,
            bins=bins,
            activation_grads=p_agrads if activation_grads is None else activation_grads,
            check_nonfinite=on_nonfinite != "ignore" or diagnose,
            on_event=self._on_event,
            on_first_forward=functools.partial(self._record_graph, key) if log_graph else None,
            on_step_end=self._live_check if diagnose else None,
            transformer=transformer,
            probe=probe,
            tokens=tokens,
            on_transformer=functools.partial(self._write_transformer, key),
        )
        self._watchers[key] = watcher
        self._writer.set_layers(watcher.layer_infos())
        info = {
            "every": p_every if every is None else every,
            "preset": preset,
            "optimizer": type(watcher.optimizer).__name__ if watcher.optimizer else None,
            "model": type(watcher.model).__name__,
            "compiled": watcher.compiled,
        }
        self._watch_meta[key] = info
        self._writer.update_meta(
            watch=self._watch_meta.get("", info),
            watches={k or "": v for k, v in self._watch_meta.items()},
        )
        return self

    def unwatch(self, name: str | None = None) -> None:
        """Remove every hook (of the watch called ``name``, or of all); pending statistics are
        written.
        """
        keys = list(self._watchers) if name is None else [name]
        for key in keys:
            self._unwatch_one(key)

    def _unwatch_one(self, key: str) -> None:
        w = self._watchers.pop(key, None)
        if w is not None:
            self._check_captured(w, final=True)
            w.close()
            self._writer.set_layers(w.layer_infos())

    @property
    def _watcher(self) -> Watcher | None:
        """The first watch (the one ``run.step`` and ``run.log`` follow)."""
        return next(iter(self._watchers.values()), None)

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

    def _write_stats(self, step: int, rows: list, hists: list) -> None:
        self._writer.log_stats(step, rows)
        if hists:
            self._writer.log_histograms(step, hists)
        if step <= 2:
            for w in self._watchers.values():
                self._writer.set_layers(w.layer_infos())

    def _write_transformer(self, key: str, step: int, rows: Any) -> None:
        self._writer.log_transformer(step, rows.heads, rows.blocks, rows.outputs, rows.patterns)
        if rows.info is not None:
            self._transformer_info[key] = rows.info
            self._writer.update_meta(transformer=merge_info(self._transformer_info))

    def _record_graph(
        self, key: str, module: nn.Module, path: str, args: tuple[Any, ...],
        kwargs: dict[str, Any]
    ) -> None:
        try:
            from deepscope.graph import build_graph
            from deepscope.graph.combine import combine_graphs

            graph = build_graph(unwrap(module), args, example_kwargs=kwargs or None).to_dict()
            prefix = ".".join(p for p in (key, path) if p)
            self._graphs[key] = (prefix, graph)
            self._writer.set_graph(combine_graphs(list(self._graphs.values())))
        except Exception as err:  # noqa: BLE001 - the graph is optional, training must go on
            self._writer.add_event(
                "graph_failed", 0, None, {"error": f"{type(err).__name__}: {err}"}
            )

    def _check_captured(self, watcher: Watcher, final: bool = False) -> None:
        """A watch that saw no training forward must say so (never a silent empty run)."""
        key = watcher.name or ""
        seen = watcher.training_forwards or (watcher.optimizer_steps and not watcher.hookable)
        if seen or key in self._nothing_reported:
            return
        if not final and self._log_calls < _NOTHING_AFTER_LOGS:
            return
        self._nothing_reported.add(key)
        self._report(nothing_captured(watcher, self._log_calls))

    def log_graph(
        self, model: nn.Module, example_inputs: Any = None, *, input_size: Any = None
    ) -> None:
        """Store the architecture graph of ``model`` (shapes from ``example_inputs``)."""
        from deepscope.graph import build_graph

        self._writer.set_graph(build_graph(model, example_inputs, input_size=input_size).to_dict())
        for w in self._watchers.values():
            w._graph_pending = False

    # -- scalars and artifacts -------------------------------------------------------------
    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log scalar metrics at ``step`` (default: the current training step).

        Example:
            >>> run.log({"train/loss": 0.31, "train/acc": 0.9}, step=120)  # doctest: +SKIP

        """
        if not isinstance(metrics, Mapping):
            raise InvalidArgumentError(
                "log() takes a dict of metrics such as {'train/loss': 0.31}, got "
                f"{type(metrics).__name__}"
            )
        if step is None:
            step = self._default_step()
        else:
            step = check_step(step)
        values = self._clean_metrics(metrics)
        if self._finished:
            _warn_once(self, f"run {self.path.name} is finished; log() calls after finish() are "
                             "not recorded")
            return
        self._log_step = max(self._log_step, step)
        self._log_calls += 1
        if self._log_calls == _NOTHING_AFTER_LOGS:
            for w in self._watchers.values():
                self._check_captured(w)
        self._writer.log_clean_scalars(step, values)
        for tag, v in values.items():
            if not math.isfinite(v) and "loss" in tag.lower():
                self._on_loss_nonfinite(tag, v, step)
                break

    def _clean_metrics(self, metrics: Mapping[Any, Any]) -> dict[str, float]:
        values: dict[str, float] = {}
        for tag, v in metrics.items():
            if type(v) is not float:
                v = as_float(tag, v)
            if tag not in self._tags_ok:  # checked once per name, not on every call
                check_tag(tag)
                self._tags_ok.add(tag)
            values[tag if type(tag) is str else str(tag)] = v
        return values

    def _on_loss_nonfinite(self, tag: str, value: float, step: int) -> None:
        if self._watcher is not None:
            for w in self._watchers.values():
                w.report_nonfinite_loss(tag, value)
        elif not getattr(self, "_loss_reported", False):
            self._loss_reported = True
            self._on_event(
                {
                    "kind": "nonfinite",
                    "step": step,
                    "layer": None,
                    "data": {"source": "loss", "tag": tag, "value": str(value), "modules": []},
                }
            )

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

    # -- live diagnosis --------------------------------------------------------------------
    def _on_event(self, event: dict[str, Any]) -> None:
        self._writer.add_event(
            event["kind"], event.get("step"), event.get("layer"), event.get("data", {})
        )
        findings = []
        if self._monitor is not None:
            try:
                findings = self._monitor.on_event(event)
            except Exception as err:  # noqa: BLE001 - diagnosis must never stop a training run
                self._monitor_failed(err)
        for f in findings:
            self._report(f)
        if event["kind"] == "nonfinite" and self._on_nonfinite == "raise":
            self._writer.flush()
            where = event.get("layer") or event["data"].get("tag") or "the loss"
            msg = (
                findings[0].message
                if findings
                else f"non-finite values first produced by {where} at step {event.get('step')}"
            )
            raise NonFiniteError(msg)
        if event["kind"] == "nonfinite" and not findings and self._on_nonfinite == "warn" \
                and self.rank == 0:
            _err_console.print(
                f"[bold red]deepscope[/]: non-finite values first produced by "
                f"{event.get('layer') or 'the loss'} at step {event.get('step')}",
                markup=True,
                highlight=False,
            )

    def _live_check(self, step: int) -> None:
        if self._monitor is None or time.monotonic() - self._last_live < _LIVE_INTERVAL_S:
            return
        self._last_live = time.monotonic()
        try:
            if self._reader is None:
                from deepscope.store import open_reader

                self._reader = open_reader(self.path)
            findings = self._monitor.check(self._reader, step)
        except DeepscopeError:
            return
        except Exception as err:  # noqa: BLE001 - diagnosis must never stop a training run
            self._monitor_failed(err)
            return
        for f in findings:
            self._report(f)

    def _monitor_failed(self, err: Exception) -> None:
        self._monitor = None
        self._writer.add_event(
            "live_diagnosis_failed", self.step, None, {"error": f"{type(err).__name__}: {err}"}
        )

    def _report(self, finding: Any) -> None:
        if isinstance(finding, dict):
            from deepscope.diagnose.base import Finding

            finding = Finding.from_dict(finding)
        self._writer.add_finding(finding.to_dict(), source="live")
        if self.rank == 0 and (self._on_nonfinite != "ignore" or finding.code != "nonfinite"):
            _err_console.print(
                f"[bold yellow]deepscope[/] {finding.severity} [{finding.code}] {finding.message}",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )

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
        self._finished = True
        try:
            self.unwatch()
        finally:
            if self._reader is not None:
                self._reader.close()
            extra = {} if exit_code is None else {"exit_code": exit_code}
            self._writer.close(status=status, error=error, extra=extra)

    def _terminate(self, signum: int) -> None:
        """On a termination signal: write what is queued and mark the run crashed, at once.

        Hooks are left to the interpreter's exit: the signal may arrive inside one.
        """
        if self._writer.closed:  # finish() has queued its final status: let it land
            self._writer.wait_closed()
            return
        self._finished = True
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


def _check_watch_args(
    model: Any,
    optimizer: Any = None,
    every: Any = None,
    preset: Any = "default",
    schedule: Any = None,
    bins: Any = 64,
    on_nonfinite: Any = "warn",
) -> None:
    """Refuse watch() arguments that would fail later, inside training, with one line now."""
    if not isinstance(model, nn.Module):
        raise InvalidArgumentError(f"watch() needs a torch.nn.Module, got {type(model).__name__}")
    if optimizer is not None and not callable(getattr(optimizer, "step", None)):
        raise InvalidArgumentError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if preset not in PRESETS:
        raise InvalidArgumentError(f"unknown preset {preset!r}; expected one of "
                                   f"{', '.join(PRESETS)}")
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise InvalidArgumentError(f"every must be an integer >= 1, got {short(every)}")
    if schedule is not None and not callable(schedule):
        raise InvalidArgumentError("schedule must be a callable step -> bool")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 4096:
        raise InvalidArgumentError(f"bins must be an integer from 2 to 4096, got {short(bins)}")
    if on_nonfinite not in ("warn", "raise", "ignore"):
        raise InvalidArgumentError("on_nonfinite must be 'warn', 'raise' or 'ignore'")


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


def _make_monitor() -> Any:
    try:
        from deepscope.diagnose.live import LiveMonitor
    except ImportError:
        return None
    return LiveMonitor()


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
