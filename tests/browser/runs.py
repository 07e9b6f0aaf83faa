"""Runs the browser tests look at: the two real demo trainings plus hostile and live runs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import deepscope as ds
from deepscope.store.writer import RunWriter

#: A run name that would execute script if any view put it into innerHTML.
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_TAG = "train/<b>loss</b>"


def write_demo_runs(root: Path) -> dict[str, Path]:
    """The five demo runs (real trainings on scikit-learn digits), as `make demo` writes them."""
    from deepscope.demo import ALL_RUNS, train_demo

    return {cfg.name: Path(train_demo(cfg, root)) for cfg in ALL_RUNS}


def write_band_run(root: Path) -> Path:
    """A layer whose statistics are known exactly: mean -2 with std 3 for 10 steps (the band
    crosses 0), then mean 4.9 with std 6 (the issue's example: drawn 0..12 instead of -1.1..10.9);
    and a layer whose gradient norm is exactly 0 from step 50 on.
    """
    from deepscope.store.records import LayerInfo
    from deepscope.store.schema import STAT_FIELDS

    f = {n: i for i, n in enumerate(STAT_FIELDS)}
    w = RunWriter(root / "bands" / "known-stats", meta={"name": "known-stats", "config": {}})
    w.set_layers([LayerInfo("dense", "Linear", "other", 0, 10, 10),
                  LayerInfo("stuck", "Linear", "other", 1, 10, 10)])
    for step in range(0, 100, 5):
        mean, std = (-2.0, 3.0) if step < 50 else (4.9, 6.0)
        row = np.full(len(STAT_FIELDS), np.nan)
        row[[f["count"], f["mean"], f["std"], f["min"], f["max"], f["norm"]]] = [
            100, mean, std, mean - 3 * std, mean + 3 * std, 1.0 + step / 10]
        stuck = row.copy()
        stuck[f["norm"]] = 0.0 if step >= 50 else 0.5
        w.log_stats(step, [("dense", "weight", row), ("dense", "grad", row),
                           ("stuck", "grad", stuck)])
        w.log_histograms(step, [("dense", "weight", mean - 3 * std, mean + 3 * std,
                                 np.array([1, 4, 10, 4, 1]))])
        w.log_scalars(step, {"train/loss": 1.0 / (1 + step)})
    w.close()
    return root / "bands" / "known-stats"


def write_xss_run(root: Path) -> Path:
    """A small real training whose name, tag and config values are HTML."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    config = {"note": "<script>alert(2)</script>", "lr": 0.05}
    with ds.init(name=XSS_NAME, dir=root / "xss", config=config) as run:
        run.watch(model, optimizer=opt, every=2)
        for step in range(30):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            run.log({XSS_TAG: loss.item(), "train/loss": loss.item()}, step=step)
    return Path(run.path)


def write_big_scalar_run(root: Path, n: int = 1_000_000) -> Path:
    """One tag with ``n`` points (a noisy curve with one spike), written in one batch."""
    steps = np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(0)
    values = np.exp(-steps / (n / 5)) + 0.05 * rng.standard_normal(n)
    values[n // 2 + 123] = 25.0  # the spike min/max downsampling must keep
    walls = time.time() - (n - steps) * 1e-3
    w = RunWriter(root / "big" / "scalars-1m", meta={"name": "scalars-1m", "config": {"points": n}})
    w.log_scalar_arrays("train/loss", steps, values, walls)
    w.close()
    return root / "big" / "scalars-1m"


class LiveRun:
    """A run that keeps running while a test watches it: ``log(n)`` appends n points."""

    def __init__(self, root: Path):
        self.writer = RunWriter(
            root / "live" / "live-run", meta={"name": "live-run", "config": {}}, flush_interval=0.2
        )
        self.step = 0

    def log(self, n: int) -> int:
        for _ in range(n):
            self.writer.log_scalars(self.step, {"train/loss": 1.0 / (1 + self.step)})
            self.step += 1
        self.writer.flush()
        return self.step - 1

    def close(self) -> None:
        self.writer.close()
