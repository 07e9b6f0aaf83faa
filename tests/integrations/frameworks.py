"""Data and helpers shared by the framework adapter tests (real trainings on sklearn digits)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import deepscope as ds
from deepscope.store.schema import ROOT_LAYER


def digits_arrays(n: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """(N x 64 float32 pixels in [0, 1], N int64 labels), the first ``n`` digits."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return (X[:n] / 16.0).astype(np.float32), y[:n].astype(np.int64)


def stat_steps(reader: ds.RunReader, kind: str) -> list[int]:
    return [int(s) for s in reader.stat_steps(kind)]


def assert_recorded(reader: ds.RunReader, layer: str, *, loss_tag: str, min_points: int = 50):
    """The run has per-layer statistics of ``layer``, a loss series and a graph."""
    names = {info.name for info in reader.layers()}
    assert layer in names, sorted(names)
    for kind in ("weight", "grad", "activation"):
        series = reader.stat_series(layer, kind)
        assert len(series.steps) >= 3, (kind, series.steps)
        assert np.isfinite(series["norm"]).all() and (series["norm"] > 0).all(), kind
    assert len(reader.scalars(loss_tag).steps) >= min_points
    graph = reader.graph()
    assert graph is not None and any(n["id"] == layer for n in graph["nodes"]), graph
    assert reader.meta().status == "finished"


def root_output_count(reader: ds.RunReader) -> int:
    """Elements of the recorded root output at the first sampled step (batch x 10 for logits)."""
    return int(reader.stat_series(ROOT_LAYER, "activation")["count"][0])


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300
    )
