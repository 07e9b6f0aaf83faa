"""Import TensorBoard event files into deepscope runs (scalars), so old runs sit beside new ones.

Each directory under LOGDIR that holds event files becomes one run named after its relative path.
Scalars are copied at full resolution; TensorBoard histograms and images are not imported (their
per-layer meaning is not recoverable from tag names).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from deepscope.errors import InvalidArgumentError, OptionalDependencyError
from deepscope.run import _version
from deepscope.store.writer import RunWriter


def _event_dirs(logdir: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(logdir):
        dirnames.sort()
        if any(f.startswith("events.out.tfevents") for f in filenames):
            found.append(Path(dirpath))
    return found


def import_tensorboard(
    logdir: str | Path, root: str | Path = "deepscope-runs", name: str | None = None
) -> list[Path]:
    """Copy the scalars of every TensorBoard run under ``logdir`` into new deepscope runs.

    Example:
        >>> import_tensorboard("runs/", "deepscope-runs")  # doctest: +SKIP
        [PosixPath('deepscope-runs/tb-exp1-20261122-101500-ab12')]

    """
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise OptionalDependencyError(
            "importing TensorBoard logs needs tensorboard: pip install tensorboard"
        ) from None
    logdir = Path(logdir)
    if not logdir.is_dir():
        raise InvalidArgumentError(f"no such directory: {logdir}")
    dirs = _event_dirs(logdir)
    if not dirs:
        raise InvalidArgumentError(f"no TensorBoard event files under {logdir}")
    out = []
    for d in dirs:
        acc = EventAccumulator(str(d), size_guidance={"scalars": 0})
        acc.Reload()
        rel = d.relative_to(logdir).as_posix()
        run_name = name or ("tb-" + (rel if rel != "." else logdir.resolve().name))
        started = min(
            (e.wall_time for t in acc.Tags()["scalars"] for e in acc.Scalars(t)[:1]),
            default=time.time(),
        )
        writer = RunWriter.create(
            root,
            run_name,
            {
                "name": run_name,
                "config": {"imported_from": str(d)},
                "started_at": started,
                "deepscope_version": _version(),
            },
            started=started,
        )
        last = started
        for tag in acc.Tags()["scalars"]:
            events = acc.Scalars(tag)
            steps = np.array([e.step for e in events], dtype=np.int64)
            values = np.array([e.value for e in events], dtype=np.float64)
            walls = np.array([e.wall_time for e in events], dtype=np.float64)
            writer.log_scalar_arrays(tag, steps, values, walls)
            if len(walls):
                last = max(last, float(walls.max()))
        writer.update_meta(heartbeat=last)
        writer.close(ended_at=last)  # the run ended with its last event, not at import time
        out.append(writer.path)
    return out
