"""Read one TensorBoard run directory into plain arrays: scalars, histograms, text, hparams.

Events are read with TensorBoard's own record reader (CRC-checked, stops cleanly at a truncated
record), without the reservoir sampling of ``EventAccumulator``: every point is kept. Both the
legacy summary values (``simple_value``, ``histo``: what ``torch.utils.tensorboard`` writes) and
the tensor forms of TF2 (plugins ``scalars``, ``histograms``, ``text``) are understood;
``hparams`` plugin data (``SummaryWriter.add_hparams``) gives the run's hyperparameters.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class Histogram:
    """One histogram: bucket edges and counts (TensorBoard's own buckets), plus its moments."""

    step: int
    wall: float
    lefts: np.ndarray
    rights: np.ndarray
    counts: np.ndarray
    num: float
    total: float | None = None  #: sum of the values, when recorded
    sum_squares: float | None = None

    @property
    def lo(self) -> float:
        return float(self.lefts[0]) if len(self.lefts) else 0.0

    @property
    def hi(self) -> float:
        return float(self.rights[-1]) if len(self.rights) else 0.0


@dataclass
class TbRun:
    """What one directory of event files holds."""

    path: Path
    scalars: dict[str, tuple[list[int], list[float], list[float]]] = field(
        default_factory=lambda: defaultdict(lambda: ([], [], [])))
    histograms: dict[str, list[Histogram]] = field(default_factory=lambda: defaultdict(list))
    texts: list[tuple[int, float, str, str]] = field(default_factory=list)
    hparams: dict[str, Any] = field(default_factory=dict)
    first_wall: float = math.inf
    last_wall: float = -math.inf
    events: int = 0

    @property
    def empty(self) -> bool:
        return not (self.scalars or self.histograms or self.texts or self.hparams)


def event_files(directory: Path) -> list[Path]:
    """The event files of one run directory, in the order TensorBoard reads them."""
    return sorted(p for p in directory.iterdir()
                  if p.name.startswith("events.out.tfevents") and p.is_file())


def read_run(directory: Path) -> TbRun:
    """Every summary in the event files of ``directory`` (not its subdirectories)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    run = TbRun(directory)
    plugins: dict[str, str] = {}  # TF2 writes a tag's plugin name only with its first value
    for path in event_files(directory):
        for event in LegacyEventFileLoader(str(path)).Load():
            if not event.HasField("summary"):
                continue
            run.events += 1
            run.first_wall = min(run.first_wall, event.wall_time)
            run.last_wall = max(run.last_wall, event.wall_time)
            for value in event.summary.value:
                name = value.metadata.plugin_data.plugin_name
                if name:
                    plugins[value.tag] = name
                _add_value(run, event, value, plugins.get(value.tag, ""))
    return run


def _add_value(run: TbRun, event: Any, value: Any, plugin: str) -> None:
    kind = value.WhichOneof("value")
    step, wall = int(event.step), float(event.wall_time)
    if plugin == "hparams":
        run.hparams.update(_hparams(value.metadata.plugin_data.content))
    elif kind == "simple_value":
        _append(run.scalars[value.tag], step, float(value.simple_value), wall)
    elif kind == "histo":
        run.histograms[value.tag].append(_legacy_histogram(value.histo, step, wall))
    elif kind == "tensor":
        _add_tensor(run, value, plugin, step, wall)


def _append(series: tuple[list[int], list[float], list[float]], step: int, v: float,
            wall: float) -> None:
    series[0].append(step)
    series[1].append(v)
    series[2].append(wall)


def _add_tensor(run: TbRun, value: Any, plugin: str, step: int, wall: float) -> None:
    from tensorboard.util.tensor_util import make_ndarray

    array = make_ndarray(value.tensor)
    if plugin == "scalars" and array.size == 1:
        _append(run.scalars[value.tag], step, float(array.reshape(-1)[0]), wall)
    elif plugin == "histograms" and array.ndim == 2 and array.shape[1] == 3:
        lefts, rights, counts = array[:, 0], array[:, 1], array[:, 2]
        run.histograms[value.tag].append(Histogram(step, wall, lefts, rights, counts,
                                                   float(counts.sum())))
    elif plugin == "text":
        parts = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
                 for x in array.reshape(-1)]
        tag = value.tag.removesuffix("/text_summary")
        run.texts.append((step, wall, tag, "\n".join(parts)))


def _legacy_histogram(h: Any, step: int, wall: float) -> Histogram:
    """``HistogramProto``: bucket ``i`` holds values in ``(limit[i-1], limit[i]]``; the open
    ends are closed at the recorded min and max.
    """
    limits = np.asarray(h.bucket_limit, dtype=np.float64)
    counts = np.asarray(h.bucket, dtype=np.float64)
    n = min(len(limits), len(counts))
    limits, counts = limits[:n], counts[:n]
    lo, hi = float(h.min), float(h.max)
    lefts = np.clip(np.concatenate([[lo], limits[:-1]]), lo, hi)
    rights = np.clip(limits, lo, hi)
    return Histogram(step, wall, lefts, rights, counts, float(h.num), float(h.sum),
                     float(h.sum_squares))


def _hparams(content: bytes) -> dict[str, Any]:
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
    except Exception:  # noqa: BLE001 - a damaged record holds no usable hyperparameters
        return {}
    if not data.HasField("session_start_info"):
        return {}
    out: dict[str, Any] = {}
    for key, val in data.session_start_info.hparams.items():
        which = val.WhichOneof("kind")
        out[key] = getattr(val, which) if which else None
    return out


def rebin(hist: Histogram, bins: int) -> tuple[float, float, np.ndarray]:
    """``(lo, hi, counts)`` on ``bins`` equal bins, spreading each bucket evenly over its width.

    Example:
        >>> h = Histogram(0, 0.0, np.array([0.0, 1.0]), np.array([1.0, 2.0]),
        ...               np.array([4.0, 2.0]), 6.0)
        >>> rebin(h, 2)[2].tolist()
        [4, 2]

    """
    lo, hi = hist.lo, hist.hi
    if not len(hist.counts) or not hi > lo:
        return lo, hi, np.bincount([0], weights=[hist.num], minlength=bins)[:bins].astype(np.int64)
    edges = np.linspace(lo, hi, bins + 1)
    xs = np.concatenate([[hist.lefts[0]], hist.rights])
    cum = np.concatenate([[0.0], np.cumsum(hist.counts)])
    # Zero-width buckets repeat an edge: keep its last occurrence (the count up to and at it).
    _, first_reversed = np.unique(xs[::-1], return_index=True)
    keep = len(xs) - 1 - first_reversed
    cdf = np.interp(edges, xs[keep], np.maximum.accumulate(cum[keep]))
    cdf[-1] = cum[-1]
    return lo, hi, np.diff(np.rint(cdf)).astype(np.int64)


def moments(hist: Histogram) -> dict[str, float]:
    """count, mean, std, min, max, norm from the recorded sums (bucket centres otherwise)."""
    num = hist.num
    if hist.total is None or hist.sum_squares is None:
        centres = (hist.lefts + hist.rights) / 2
        total = float((centres * hist.counts).sum())
        squares = float((centres**2 * hist.counts).sum())
    else:
        total, squares = hist.total, hist.sum_squares
    mean = total / num if num else math.nan
    var = max(squares / num - mean * mean, 0.0) if num else math.nan
    return {"count": num, "mean": mean, "std": math.sqrt(var), "min": hist.lo, "max": hist.hi,
            "norm": math.sqrt(max(squares, 0.0)), "nonfinite": 0.0}
