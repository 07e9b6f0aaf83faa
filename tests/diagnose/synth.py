"""Synthetic runs written through RunWriter: exact control over what each rule sees."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from deepscope.store.records import LayerInfo
from deepscope.store.schema import STAT_FIELDS
from deepscope.store.writer import RunWriter

_F = {f: i for i, f in enumerate(STAT_FIELDS)}


def vec(**fields: float) -> np.ndarray:
    v = np.full(len(STAT_FIELDS), np.nan)
    for k, x in fields.items():
        v[_F[k]] = x
    return v


def linear(name: str, order: int, *, n: int = 1000, in_optimizer: bool | None = True,
           type_: str = "Linear") -> LayerInfo:
    params = ({"name": "weight", "shape": [n], "numel": n, "requires_grad": True,
               "in_optimizer": in_optimizer},)
    return LayerInfo(name, type_, "other", order, n, n, params)


def act(name: str, order: int, family: str = "relu") -> LayerInfo:
    return LayerInfo(name, family.capitalize(), family, order, 0, 0, ())


ROOT = LayerInfo("<root>", "Net", "other", 99, 0, 0, ())

#: rows(step) -> [(layer, kind, {field: value})]
RowsFn = Callable[[int], Iterable[tuple[str, str, dict[str, float]]]]


def write_run(path: Path, layers: list[LayerInfo], steps: Iterable[int], rows: RowsFn | None,
              scalars: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
              events: list[dict[str, Any]] | None = None,
              findings: list[dict[str, Any]] | None = None) -> Path:
    w = RunWriter(path, meta={"name": path.name, "config": {}})
    w.set_layers(layers)
    if rows is not None:
        for s in steps:
            w.log_stats(s, [(lay, kind, vec(**f)) for lay, kind, f in rows(s)])
    for tag, (st, vals) in (scalars or {}).items():
        w.log_scalar_arrays(tag, np.asarray(st), np.asarray(vals, float),
                            np.zeros(len(st)))
    for e in events or []:
        w.add_event(e["kind"], e.get("step"), e.get("layer"), e.get("data", {}))
    for f in findings or []:
        w.add_finding(f)
    w.close()
    return path


def healthy_rows(layers: list[str], step: int, *, grad: float = 0.5, weight: float = 10.0,
                 moving: bool = True) -> list[tuple[str, str, dict[str, float]]]:
    """Weight/grad rows of healthy dense layers (weights drift when ``moving``)."""
    w = weight + (0.01 * step if moving else 0.0)
    out = []
    for name in layers:
        out.append((name, "weight", {"count": 1000, "norm": w, "min": -1.0 - (0.001 * step if
                   moving else 0.0), "max": 1.0, "mean": 0.0, "nonfinite": 0}))
        out.append((name, "grad", {"count": 1000, "norm": grad, "min": -0.1, "max": 0.1,
                                   "mean": 0.0, "nonfinite": 0}))
    return out


def loss_curve(kind: str, n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Training-loss shapes: healthy, flat, diverging, unstable."""
    rng = np.random.default_rng(seed)
    s = np.arange(n)
    noise = 1 + 0.1 * rng.standard_normal(n)
    if kind == "healthy":
        v = (2.3 * np.exp(-s / 60) + 0.05) * noise
    elif kind == "flat":
        v = 2.3 * noise
    elif kind == "diverging":
        v = 2.3 * np.exp(s / 150) * noise
    elif kind == "unstable":
        v = (2.3 * np.exp(-s / 30) + 0.05) * noise
        v[n // 2:] += 1.5 * (np.sin(s[n // 2:] / 5) > 0)
    else:
        raise ValueError(kind)
    return s, v
