"""Import TensorBoard event files into deepscope runs, so old runs sit beside new ones.

Each directory under LOGDIR that holds event files becomes one run named after its relative
path, with every point (no sampling):

* scalars, at full resolution and with their wall times (the run's duration is its first to
  its last event);
* histograms, re-binned to 64 equal bins, with their moments as statistics rows; the tag gives
  the layer and the kind (``fc1.weight``, ``fc1/grad``, ``grad/fc1``, ``activations/fc1``;
  any other tag is a ``weight`` histogram of a layer named like the tag);
* text (``add_text``) as ``text`` events;
* hyperparameters of ``add_hparams``: its sub-run (a directory holding only the hparams
  session) becomes the config of the run above it, and its metric values that run's scalars.

A directory whose files hold no readable event is skipped and reported; when none is readable
the import fails with one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from deepscope.errors import InvalidArgumentError, OptionalDependencyError
from deepscope.integrations.tensorboard_events import TbRun, moments, read_run, rebin
from deepscope.run import _version
from deepscope.store.records import LayerInfo
from deepscope.store.schema import STAT_FIELDS
from deepscope.store.writer import RunWriter

#: Histogram bins of imported histograms (the capture default).
BINS = 64
_KINDS = {"weight": "weight", "weights": "weight", "kernel": "weight", "grad": "grad",
          "grads": "grad", "gradient": "grad", "gradients": "grad", "activation": "activation",
          "activations": "activation", "output": "activation", "outputs": "activation"}
_SUFFIX = re.compile(r"^(?P<layer>.+?)[./](?P<what>[A-Za-z]+)$")
_PREFIX = re.compile(r"^(?P<what>[A-Za-z]+)/(?P<layer>.+)$")


def histogram_target(tag: str) -> tuple[str, str]:
    """``(layer, kind)`` that a TensorBoard histogram tag describes.

    Example:
        >>> histogram_target("fc1.weight"), histogram_target("gradients/conv1")
        (('fc1', 'weight'), ('conv1', 'grad'))
        >>> histogram_target("fc1.bias")
        ('fc1.bias', 'weight')

    """
    for pattern in (_SUFFIX, _PREFIX):
        m = pattern.match(tag)
        if m and m.group("what").lower() in _KINDS:
            return m.group("layer"), _KINDS[m.group("what").lower()]
    return tag, "weight"


def _event_dirs(logdir: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(logdir):
        dirnames.sort()
        if any(f.startswith("events.out.tfevents") for f in filenames):
            found.append(Path(dirpath))
    return found


def _fold_hparams(runs: list[TbRun]) -> list[TbRun]:
    """``add_hparams`` sub-runs (hparams and a few scalars, one level down) join their parent."""
    by_path = {r.path: r for r in runs}
    kept = []
    for run in runs:
        parent = by_path.get(run.path.parent)
        if run.hparams and not run.histograms and parent is not None:
            parent.hparams.update(run.hparams)
            for tag, (steps, values, walls) in run.scalars.items():
                target = parent.scalars[tag]
                for i in range(3):
                    target[i].extend((steps, values, walls)[i])
            parent.first_wall = min(parent.first_wall, run.first_wall)
            parent.last_wall = max(parent.last_wall, run.last_wall)
        else:
            kept.append(run)
    return kept


def _write_histograms(writer: RunWriter, run: TbRun) -> None:
    fields = {f: i for i, f in enumerate(STAT_FIELDS)}
    layers: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    for tag in sorted(run.histograms):
        layer, kind = histogram_target(tag)
        if (layer, kind) in seen:  # two tags for one layer and kind: keep both, apart
            layer, kind = tag, "weight"
        seen.add((layer, kind))
        layers.setdefault(layer, len(layers))
        for h in run.histograms[tag]:
            vec = np.full(len(STAT_FIELDS), np.nan)
            for name, value in moments(h).items():
                vec[fields[name]] = value
            lo, hi, counts = rebin(h, BINS)
            writer.log_stats(h.step, [(layer, kind, vec)])
            writer.log_histograms(h.step, [(layer, kind, lo, hi, counts)])
    writer.set_layers([LayerInfo(name, "tensorboard", "other", order, 0, 0)
                       for name, order in layers.items()])


def _write(run: TbRun, logdir: Path, root: Path | str, name: str | None) -> Path:
    rel = run.path.relative_to(logdir).as_posix()
    run_name = name or ("tb-" + (rel if rel != "." else logdir.resolve().name))
    config = {**{str(k): v for k, v in run.hparams.items()}, "imported_from": str(run.path)}
    writer = RunWriter.create(
        root, run_name,
        {"name": run_name, "config": config, "started_at": run.first_wall,
         "deepscope_version": _version()},
        started=run.first_wall,
    )
    for tag, (steps, values, walls) in run.scalars.items():
        writer.log_scalar_arrays(tag, np.array(steps, np.int64), np.array(values, np.float64),
                                 np.array(walls, np.float64))
    if run.histograms:
        _write_histograms(writer, run)
    for step, wall, tag, text in run.texts:
        writer.add_event("text", step, None, {"tag": tag, "text": text, "wall": wall})
    writer.close(ended_at=run.last_wall)  # the run ended with its last event, not at import
    return writer.path


def import_tensorboard(
    logdir: str | Path,
    root: str | Path = "deepscope-runs",
    name: str | None = None,
    on_skip: Callable[[Path, str], None] | None = None,
) -> list[Path]:
    """Copy every TensorBoard run under ``logdir`` into new deepscope runs (see the module).

    Args:
        logdir: a TensorBoard log directory.
        root: where the new runs go.
        name: run name (default ``tb-<relative path>``).
        on_skip: called with ``(directory, why)`` for each directory that holds nothing
            readable.

    Example:
        >>> import_tensorboard("runs/", "deepscope-runs")  # doctest: +SKIP
        [PosixPath('deepscope-runs/tb-exp1-20261122-101500-3fa9c1')]

    """
    try:
        import tensorboard  # noqa: F401
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
    read = [read_run(d) for d in dirs]
    runs = [r for r in read if not r.empty]
    if not runs:
        raise InvalidArgumentError(f"no readable TensorBoard events under {logdir} "
                                   f"({len(dirs)} event directories, all damaged or empty)")
    for r in read:
        if r.empty and on_skip is not None:
            on_skip(r.path, "no readable TensorBoard events (damaged or empty files)")
    return [_write(run, logdir, root, name) for run in _fold_hparams(runs)]
