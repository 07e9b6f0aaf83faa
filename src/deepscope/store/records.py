"""Frozen records returned by :class:`~deepscope.store.reader.RunReader`.

Series are numpy arrays (``steps`` int64, values float64) so consumers can compute without copies;
``to_dict`` gives the JSON shape shared by the server API and the report payload.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepscope.store.schema import STAT_FIELDS


def _clean(values: np.ndarray) -> list[float | None]:
    """JSON has no NaN: non-finite values become ``None``."""
    out = values.astype(float).tolist()
    return [v if v == v and v not in (float("inf"), float("-inf")) else None for v in out]


@dataclass(frozen=True)
class RunMeta:
    """What a run says about itself. ``status`` is ``running``, ``finished`` or ``crashed``
    (the process died, raised, exited non-zero or was terminated; ``error`` says which).
    """

    id: str
    name: str
    path: str
    status: str
    started_at: float
    ended_at: float | None
    heartbeat: float | None
    config: dict[str, Any]
    host: str
    pid: int | None
    torch_version: str
    python_version: str
    git_commit: str | None
    deepscope_version: str
    schema_version: int
    last_step: int | None
    error: str | None = None
    #: The process's exit status when it ended through ``sys.exit`` (None otherwise).
    exit_code: int | None = None
    #: ``run.watch`` calls by watch name (``""`` unnamed): every, preset, optimizer, model.
    watches: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (or to the last heartbeat while running / after a crash)."""
        end = self.ended_at or self.heartbeat
        return None if end is None else max(0.0, end - self.started_at)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["duration"] = self.duration
        return d


@dataclass(frozen=True)
class LayerInfo:
    """One watched module. ``family`` is ``relu``, ``sigmoid``, ``tanh`` or ``other``; ``order`` is
    the first-seen forward order (registration order until the first forward).
    """

    name: str
    type: str
    family: str
    order: int
    num_params: int
    trainable_params: int
    params: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "params": list(self.params)}


@dataclass(frozen=True)
class ScalarSeries:
    """One scalar tag. ``downsampled`` is true when fewer points than stored are returned."""

    tag: str
    steps: np.ndarray
    values: np.ndarray
    walls: np.ndarray
    total_points: int
    downsampled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "steps": self.steps.tolist(),
            "values": _clean(self.values),
            "walls": self.walls.tolist(),
            "total_points": self.total_points,
            "downsampled": self.downsampled,
        }


@dataclass(frozen=True)
class StatSeries:
    """Statistics of one (layer, kind) over sampled steps, fields in STAT_FIELDS order."""

    layer: str
    kind: str
    steps: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "kind": self.kind,
            "steps": self.steps.tolist(),
            "fields": {k: _clean(v) for k, v in self.fields.items()},
        }


@dataclass(frozen=True)
class StatMatrix:
    """One statistic for many layers: ``values[i, j]`` is layer ``layers[i]`` at ``steps[j]``
    (NaN where not recorded). Feeds heatmaps and gradient-flow charts.
    """

    kind: str
    field: str
    layers: tuple[str, ...]
    steps: np.ndarray
    values: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "field": self.field,
            "layers": list(self.layers),
            "steps": self.steps.tolist(),
            "values": [_clean(row) for row in self.values],
        }


@dataclass(frozen=True)
class HistogramSeries:
    """Fixed-k histograms over steps: bin edges of row i are ``linspace(lo[i], hi[i], k + 1)``."""

    layer: str
    kind: str
    steps: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    counts: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "kind": self.kind,
            "steps": self.steps.tolist(),
            "lo": _clean(self.lo),
            "hi": _clean(self.hi),
            "counts": self.counts.tolist(),
        }


@dataclass(frozen=True)
class Event:
    """Something that happened at a step (e.g. ``nonfinite`` with the first offending module)."""

    id: int
    step: int | None
    kind: str
    layer: str | None
    data: dict[str, Any]
    wall: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class ArtifactInfo:
    """A stored explain result (attributions, embedding, predictions, ...)."""

    id: int
    name: str
    kind: str
    step: int | None
    wall: float
    blob_keys: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "blob_keys": list(self.blob_keys)}


@dataclass(frozen=True)
class Artifact:
    """An artifact with its JSON data; binary parts (PNG images, arrays) via ``blobs``."""

    info: ArtifactInfo
    data: dict[str, Any]
    blobs: dict[str, tuple[str, bytes]] = field(default_factory=dict)


__all__ = [
    "STAT_FIELDS",
    "Artifact",
    "ArtifactInfo",
    "Event",
    "HistogramSeries",
    "LayerInfo",
    "RunMeta",
    "ScalarSeries",
    "StatMatrix",
    "StatSeries",
]
