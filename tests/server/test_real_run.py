"""The API on a run written by a real (tiny) training through deepscope.init / run.watch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from torch import nn

import deepscope as ds
from deepscope.server import create_app


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("real")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    with ds.init(name="tiny", dir=root, config={"lr": 0.1}) as run:
        run.watch(model, optimizer=opt, every=2)
        for step in range(12):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            run.log({"train/loss": loss.item()}, step=step)
    return root, Path(run.path).name


def test_every_view_of_a_real_run(trained: tuple[Path, str]) -> None:
    root, rid = trained
    c = TestClient(create_app(root), base_url="http://127.0.0.1")
    detail = c.get(f"/api/runs/{rid}").json()
    assert detail["status"] == "finished" and "train/loss" in detail["tags"]
    assert {"weight", "grad", "activation"} <= set(detail["kinds"])
    loss = c.get(f"/api/runs/{rid}/scalars/series", params={"tag": "train/loss"}).json()
    assert loss["steps"] == list(range(12)) and loss["values"][-1] < loss["values"][0]
    layers = [x["name"] for x in c.get(f"/api/runs/{rid}/layers").json()]
    assert "0" in layers and "2" in layers
    grad = c.get(f"/api/runs/{rid}/stats", params={"kind": "grad", "field": "norm"}).json()
    assert "0" in grad["layers"] and any(v for v in grad["values"][0] if v)
    series = c.get(f"/api/runs/{rid}/stats/series", params={"layer": "1", "kind": "activation"})
    assert series.status_code == 200 and series.json()["fields"]["dead_frac"]
    hist = c.get(f"/api/runs/{rid}/histograms", params={"layer": "0", "kind": "weight"})
    assert hist.status_code == 200 and sum(hist.json()["counts"][0]) > 0
    graph = c.get(f"/api/runs/{rid}/graph")
    assert graph.status_code == 200, graph.text
    assert graph.json()["format"] == "deepscope.graph/1"
    findings = c.get(f"/api/runs/{rid}/findings").json()
    assert isinstance(findings["ok"], bool)
    assert c.get(f"/api/runs/{rid}/artifacts").json() == []
