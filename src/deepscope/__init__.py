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

from deepscope.errors import DeepscopeError
from deepscope.run import Run, init
from deepscope.store import RunReader, open_reader

if TYPE_CHECKING:
    from deepscope.diagnose.diagnosis import Diagnosis
    from deepscope.graph.summary import ModelSummary

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
    "summary",
]


def open_run(path: str | Path | Run) -> RunReader:
    """Open a run directory for reading (scalars, layer statistics, histograms, metadata).

    Example:
        >>> reader = ds.open_run("deepscope-runs/cnn-20261122-101500-ab12")  # doctest: +SKIP
        >>> reader.scalars("train/loss", max_points=500).values  # doctest: +SKIP

    """
    return open_reader(path.path if isinstance(path, Run) else path)


def diagnose(run_or_path: Any, config: dict[str, Any] | None = None) -> Diagnosis:
    """Run every diagnosis rule on a run (path, Run or RunReader); see ``deepscope.diagnose``.

    Example:
        >>> for f in ds.diagnose("deepscope-runs/cnn-...").findings:  # doctest: +SKIP
        ...     print(f.code, f.severity, f.layer, f.step, f.message, f.suggestion)

    """
    from deepscope.diagnose import diagnose as _diagnose

    if isinstance(run_or_path, Run):
        run_or_path.flush()  # a run still training: judge everything recorded so far
    return _diagnose(run_or_path, config=config)


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
    """Write one self-contained HTML report of a run (no network needed to view it).

    Example:
        >>> ds.report("deepscope-runs/cnn-...", "report.html")  # doctest: +SKIP

    """
    from deepscope.report.build import build_report

    if isinstance(run_or_path, Run):
        run_or_path.flush()
        run_or_path = run_or_path.path
    return build_report(run_or_path, out)


def __getattr__(name: str) -> Any:
    if name == "explain":
        import importlib

        return importlib.import_module("deepscope.explain")
    raise AttributeError(f"module 'deepscope' has no attribute {name!r}")


# ``deepscope.diagnose`` is also a subpackage, and importing a subpackage rebinds the package
# attribute of that name to the module. Importing it here, once, and binding the function last
# keeps ``ds.diagnose`` callable after any later ``import deepscope.diagnose...``.
from deepscope.diagnose import diagnose  # noqa: E402, F811
