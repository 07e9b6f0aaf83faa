"""The demo's broken runs lead their diagnosis with the finding they are built to show."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from deepscope.demo import BROKEN, HEALTHY, headline, train_demo
from deepscope.store import open_reader


@pytest.fixture(scope="module")
def broken_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo")
    return {cfg.name: train_demo(cfg, root) for cfg in BROKEN}


@pytest.mark.parametrize("cfg", BROKEN, ids=lambda c: c.name)
def test_broken_run_headline_is_its_mistake(cfg, broken_runs) -> None:
    h = headline(cfg, broken_runs[cfg.name])
    assert h.code == cfg.headline, h
    assert h.severity in ("warning", "error")


def test_the_nan_starts_in_the_softmax_from_finite_inputs(broken_runs) -> None:
    cfg = next(c for c in BROKEN if c.headline == "nonfinite")
    h = headline(cfg, broken_runs[cfg.name])
    assert h.layer == "attention.softmax" and h.step is not None and h.step >= 70
    with open_reader(broken_runs[cfg.name]) as r:
        loss = r.scalars("train/loss")
        inputs = r.stat_series("<root>", "input")
    assert np.isfinite(loss.values[:-1]).all() and np.isnan(loss.values[-1])  # the curve ends
    assert np.nanmax(inputs["nonfinite"]) == 0  # the data was finite; the module made the NaN


def test_broken_runs_look_different_in_their_curves(broken_runs) -> None:
    finals = {}
    for name, path in broken_runs.items():
        with open_reader(path) as r:
            finals[name] = r.scalars("val/loss").values
    vanishing = finals["demo-vanishing-sigmoid"]
    overfit = finals["demo-overfit-mlp"]
    assert abs(vanishing[-1] - np.log(10)) < 0.1  # stays at chance level
    assert overfit[-1] > np.nanmin(overfit) + 0.15  # turns and rises
    assert finals["demo-dead-relu-cnn"][-1] > 1.5  # stalls far above a trained CNN


def test_healthy_configuration_is_the_reference() -> None:
    assert HEALTHY.explain and HEALTHY.headline == ""
    assert {c.headline for c in BROKEN} == {"nonfinite", "vanishing_gradients", "dead_units",
                                            "overfitting"}


def test_broken_runs_store_results_to_compare_unless_diverged(broken_runs) -> None:
    for cfg in BROKEN:
        with open_reader(broken_runs[cfg.name]) as r:
            kinds = [a.kind for a in r.artifacts()]
        want = [] if cfg.headline == "nonfinite" else list(cfg.stores)
        assert kinds == want, (cfg.name, kinds)
    assert {c.name for c in BROKEN if "weights" in c.stores} == {"demo-vanishing-sigmoid",
                                                                  "demo-dead-relu-cnn"}
