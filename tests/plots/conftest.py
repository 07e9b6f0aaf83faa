from __future__ import annotations

import numpy as np
import pytest

from deepscope.store.records import LayerInfo
from deepscope.store.schema import STAT_FIELDS
from deepscope.store.writer import RunWriter


@pytest.fixture(scope="session")
def run_path(tmp_path_factory):
    """A run with scalars, per-layer statistics and histograms written through the store."""
    path = tmp_path_factory.mktemp("runs") / "r"
    w = RunWriter(path, meta={"name": "plots", "config": {}})
    layers = ["fc1", "fc2", "head"]
    w.set_layers([LayerInfo(n, "Linear", "other", i, 10, 10) for i, n in enumerate(layers)])
    rng = np.random.default_rng(0)
    for step in range(0, 50, 5):
        w.log_scalars(step, {"train/loss": 2.0 / (1 + step), "val/loss": 2.5 / (1 + step) + 0.1})
        rows, hists = [], []
        for i, layer in enumerate(layers):
            for kind in ("weight", "grad"):
                v = np.full(len(STAT_FIELDS), np.nan)
                v[STAT_FIELDS.index("norm")] = 10.0 ** (-i) * (1 + step)
                v[STAT_FIELDS.index("max")] = 0.5 * 10.0 ** (-i)
                v[STAT_FIELDS.index("min")] = -(10.0 ** (-i))
                rows.append((layer, kind, v))
                counts = np.histogram(rng.normal(size=500), bins=16, range=(-3, 3))[0]
                hists.append((layer, kind, -3.0, 3.0, counts))
        w.log_stats(step, rows)
        w.log_histograms(step, hists)
    w.close()
    return path
