"""What every framework adapter needs: its optional dependency, the ``ds.init`` / ``watch``
arguments, metric tags and the end of a run whose framework never said it ended.

Frameworks that have no exception hook (the transformers ``Trainer``, Keras ``fit``) leave a run
open when training raises. :class:`OpenRuns` closes such runs as ``crashed``: when a notebook
cell raises (IPython's public ``post_run_cell`` event), when the same adapter starts its next
training, and at interpreter exit (this module registers its exit hook after ``deepscope.run``'s,
so it runs first and the run is not called ``finished``).
"""

from __future__ import annotations

import atexit
import importlib
import inspect
import weakref
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from deepscope.errors import InvalidArgumentError, OptionalDependencyError
from deepscope.run import Run

#: The ``ds.init`` keywords every adapter accepts.
INIT_ARGS = ("name", "dir", "config")
_WATCH_ARGS = tuple(
    p for p in inspect.signature(Run.watch).parameters if p not in ("self", "model")
)
#: Why a run is closed as crashed when its training never reported an end.
NOT_ENDED = "training did not reach its end (an exception or an interrupt stopped it)"


def require(module: str, extra: str, what: str) -> ModuleType:
    """Import ``module`` or fail with the one-line install command of deepscope's extra.

    Example:
        >>> require("math", "hf", "the Trainer callback").pi > 3
        True

    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise OptionalDependencyError(
            f"{what} needs {module.split('.')[0]}: pip install \"deepscope[{extra}]\""
        ) from None


def watch_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``run.watch`` keywords in ``kwargs``; an unknown keyword fails at construction."""
    unknown = sorted(set(kwargs) - set(_WATCH_ARGS))
    if unknown:
        raise InvalidArgumentError(
            f"unknown argument {unknown[0]!r}; the adapter takes {', '.join(INIT_ARGS)} and the "
            f"watch() arguments ({', '.join(_WATCH_ARGS)})"
        )
    return dict(kwargs)


def numeric(values: Mapping[str, Any]) -> dict[str, float]:
    """The entries of a framework's log dict that are numbers (one-element tensors and numpy
    scalars included; strings, lists, None and booleans dropped).

    Example:
        >>> numeric({"loss": 0.5, "epoch": 1, "name": "x", "flag": True})
        {'loss': 0.5, 'epoch': 1.0}

    """
    out: dict[str, float] = {}
    for key, v in values.items():
        if hasattr(v, "item"):
            try:
                v = v.item()
            except (ValueError, RuntimeError):  # more than one element
                continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[str(key)] = float(v)
    return out


def metric_tag(prefix: str, name: str) -> str:
    """``prefix/name`` with ``accuracy`` shortened to the standard ``acc``.

    Example:
        >>> metric_tag("eval", "accuracy"), metric_tag("val", "f1")
        ('eval/acc', 'val/f1')

    """
    return f"{prefix}/{'acc' if name == 'accuracy' else name}"


class OpenRuns:
    """Runs whose training started and has not reported its end; see the module docstring."""

    def __init__(self) -> None:
        self._runs: weakref.WeakSet[Run] = weakref.WeakSet()
        self._ipython_hooked = False

    def started(self, run: Run) -> None:
        """Track ``run`` until :meth:`ended`; hooks into IPython's cell events when present."""
        self._runs.add(run)
        self._hook_ipython()

    def ended(self, run: Run, status: str = "finished", error: str | None = None) -> None:
        """The framework said training ended: finish ``run`` with ``status``."""
        self._runs.discard(run)
        run.finish(status, error)

    def crash_all(self, error: str = NOT_ENDED) -> None:
        """Finish every open run as ``crashed`` (interpreter exit, a notebook cell that raised)."""
        for run in list(self._runs):
            self.ended(run, "crashed", error)

    def _hook_ipython(self) -> None:
        if self._ipython_hooked:
            return
        try:
            from IPython import get_ipython
        except ImportError:
            return
        shell = get_ipython()
        if shell is None:
            return
        self._ipython_hooked = True
        shell.events.register("post_run_cell", self._after_cell)

    def _after_cell(self, result: Any) -> None:
        err = getattr(result, "error_in_exec", None)
        if err is not None:
            self.crash_all(f"{type(err).__name__}: {err}")


OPEN_RUNS = OpenRuns()
atexit.register(OPEN_RUNS.crash_all)
