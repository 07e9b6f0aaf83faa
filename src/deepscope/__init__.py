"""deepscope: see inside neural networks while they train, and find out what is wrong.

Example:
    >>> import deepscope as ds  # doctest: +SKIP
    >>> run = ds.init(name="cnn", dir="deepscope-runs", config={"lr": 1e-3})  # doctest: +SKIP
    >>> run.watch(model, optimizer=opt)  # doctest: +SKIP
    >>> ...; run.log({"train/loss": loss.item()}, step=step)  # doctest: +SKIP
    >>> run.finish(); ds.diagnose(run.path).findings  # doctest: +SKIP

"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

# ``diagnose`` and ``report`` are both subpackages and public functions. Importing a subpackage
# the first time binds it as an attribute of this package; loading both here, before the functions
# below are defined, keeps ``ds.diagnose`` and ``ds.report`` callable after any later
# ``import deepscope.diagnose...`` (neither imports torch).
import deepscope.diagnose as _diagnose_pkg  # noqa: F401
import deepscope.report as _report_pkg  # noqa: F401
from deepscope.errors import DeepscopeError
from deepscope.store import RunReader, open_reader

if TYPE_CHECKING:
    from deepscope.diagnose.diagnosis import Diagnosis
    from deepscope.graph.summary import ModelSummary
    from deepscope.run import Run, init

__version__ = "0.1.0"

__all__ = [
    "DeepscopeError",
    "Run",
    "RunReader",
    "__version__",
    "diagnose",
    "explain",
    "init",
    "open_run",
    "report",
    "show",
    "summary",
]


def _run_path(obj: Any) -> Any:
    """A Run (anything with ``path`` and ``flush``) is flushed and replaced by its directory."""
    if hasattr(obj, "flush") and hasattr(obj, "watch") and hasattr(obj, "path"):
        obj.flush()
        return obj.path
    return obj


def open_run(path: str | Path | Run) -> RunReader:
    """Open a run directory for reading (scalars, layer statistics, histograms, metadata).

    Example:
        >>> reader = ds.open_run("deepscope-runs/cnn-20261122-101500-ab12")  # doctest: +SKIP
        >>> reader.scalars("train/loss", max_points=500).values  # doctest: +SKIP

    """
    return open_reader(_run_path(path))


def diagnose(run_or_path: Any, config: dict[str, Any] | None = None) -> Diagnosis:
    """Run every diagnosis rule on a run (path, Run or RunReader); see ``deepscope.diagnose``.

    Example:
        >>> for f in ds.diagnose("deepscope-runs/cnn-...").findings:  # doctest: +SKIP
        ...     print(f.code, f.severity, f.layer, f.step, f.message, f.suggestion)

    """
    from deepscope.diagnose import diagnose as _diagnose

    # A run still training is flushed first: judge everything recorded so far.
    return _diagnose(_run_path(run_or_path), config=config)


def summary(
    model: Any, example_inputs: Any = None, *, input_size: Any = None, depth: int | None = None
) -> ModelSummary:
    """Architecture summary: hierarchy, shapes, parameters and FLOPs (see ``deepscope.graph``).

    Example:
        >>> print(ds.summary(model, input_size=(1, 3, 32, 32)))  # doctest: +SKIP

    """
    from deepscope.graph.summary import summary as _summary

    return _summary(model, example_inputs, input_size=input_size, depth=depth)


def report(run_or_path: Any, out: str | Path = "report.html") -> Path:
    """Write one self-contained HTML report of a run, or of a list of runs compared (no network
    needed to view it).

    Example:
        >>> ds.report("deepscope-runs/cnn-...", "report.html")  # doctest: +SKIP
        >>> ds.report([run_a, run_b], "cmp.html")  # doctest: +SKIP

    """
    from deepscope.report.build import build_report

    if isinstance(run_or_path, list | tuple):
        return build_report([_run_path(r) for r in run_or_path], out)
    return build_report(_run_path(run_or_path), out)


def show(run_or_path: Any, height: int = 720) -> Any:
    """Show a run's report (overview, curves, layers, graph, findings) inline in a notebook.

    The view is the single-file report, embedded in a sandboxed iframe: no server is needed.
    Outside a notebook it returns the page instead (``.html``, ``.save(path)``).

    Example:
        >>> ds.show(run)  # in a Jupyter cell  # doctest: +SKIP

    """
    from deepscope.integrations.notebook import show as _show

    return _show(_run_path(run_or_path), height=height)


def __getattr__(name: str) -> Any:
    # Lazy: the dashboard, the report and the CLI start without importing torch.
    import importlib

    if name in ("Run", "init"):
        return getattr(importlib.import_module("deepscope.run"), name)
    if name == "explain":
        return importlib.import_module("deepscope.explain")
    raise AttributeError(f"module 'deepscope' has no attribute {name!r}")
