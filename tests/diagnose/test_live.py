"""Live diagnosis: findings while training, once each; non-finite at once, optionally raising."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.diagnose.live import LiveMonitor
from deepscope.errors import NonFiniteError
from deepscope.store import open_reader
from diagnose.synth import ROOT, act, healthy_rows, linear, write_run

torch.set_num_threads(1)


def test_nonfinite_event_reported_once() -> None:
    mon = LiveMonitor()
    ev = {"kind": "nonfinite", "step": 7, "layer": "fc2",
          "data": {"source": "activation", "modules": ["fc2"], "input_nonfinite": False}}
    [f] = mon.on_event(ev)
    assert (f.code, f.layer, f.step, f.severity) == ("nonfinite", "fc2", 7, "error")
    assert mon.on_event({**ev, "step": 8, "layer": "fc3"}) == []
    assert mon.on_event({"kind": "other", "step": 1, "layer": None, "data": {}}) == []
    assert LiveMonitor({"nonfinite.enabled": False}).on_event(ev) == []


def test_check_reports_each_problem_once(tmp_path: Path) -> None:
    layers = [linear("fc1", 0), act("relu1", 1), linear("fc2", 2), ROOT]

    def rows(s: int) -> list:
        return healthy_rows(["fc1"], s) + [("fc2", "grad", {"count": 0, "nonfinite": 0})] + [
            ("fc2", "weight", {"count": 10, "norm": 1.0, "min": 0, "max": 1, "nonfinite": 0}),
            ("relu1", "activation", {"count": 640, "min": 0.0, "max": 1.0, "zero_frac": 0.5,
                                     "dead_frac": 0.0, "nonfinite": 0})]

    path = write_run(tmp_path / "r", layers, range(0, 200, 10), rows)
    mon = LiveMonitor()
    with open_reader(path) as r:
        first = mon.check(r, 200)
        assert [(f.code, f.layer) for f in first] == [("no_gradient", "fc2")]
        assert mon.check(r, 201) == []  # between schedule points
        assert mon.check(r, 1000) == []  # already reported


class LogOfRelu(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.fc1(x))
        h = torch.log(h) if h.shape[0] > 0 and self.training else h
        return self.fc2(h)


def _train(run: ds.Run, model: nn.Module, steps: int = 20) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.manual_seed(0)
    for step in range(steps):
        x = torch.randn(16, 4)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)


def test_watch_stores_the_nonfinite_finding(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = LogOfRelu()
    run = ds.init(name="nan", dir=tmp_path)
    run.watch(model, every=5)
    _train(run, model)
    run.finish()
    stored = open_reader(run.path).findings()
    assert [(f["code"], f["layer"], f["step"]) for f in stored] == [("nonfinite", "fc2", 0)]
    result = ds.diagnose(run.path)
    assert [(f.code, f.layer) for f in result.at_least("warning")][:1] == [("nonfinite", "fc2")]


def test_on_nonfinite_raise_stops_training(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = LogOfRelu()
    run = ds.init(name="nan-raise", dir=tmp_path)
    run.watch(model, on_nonfinite="raise")
    with pytest.raises(NonFiniteError, match="fc2"):
        _train(run, model)
    run.finish()


def test_a_forgotten_zero_grad_is_reported_while_training(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = ds.init(name="no-zero-grad", dir=tmp_path)
    run.watch(model, optimizer=opt)
    run.flush()  # the layers are in the store before training starts, as in a slower loop
    for step in range(4):
        loss = model(torch.randn(16, 4)).pow(2).mean()
        loss.backward()  # no opt.zero_grad() anywhere
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
    run.flush()
    live = [f for f in open_reader(run.path).findings() if f["code"] == "gradients_not_zeroed"]
    assert [(f["source"], f["severity"], f["step"]) for f in live] == [("live", "error", 1)]
    run.finish()
