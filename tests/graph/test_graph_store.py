"""The graph is stored in the run through the writer and read back in the same schema."""

from __future__ import annotations

from pathlib import Path

import torch

import deepscope as ds
from deepscope.graph import Graph, build_graph
from deepscope.store import open_reader
from deepscope.store.writer import RunWriter
from models import ZOO, ResNetTiny


def test_writer_and_reader_round_trip(tmp_path: Path) -> None:
    g = build_graph(ResNetTiny(), torch.randn(2, 1, 8, 8))
    writer = RunWriter(tmp_path / "run", meta={"name": "graph", "config": {}})
    writer.set_graph(g.to_dict())
    writer.close()
    with open_reader(tmp_path / "run") as reader:
        data = reader.graph()
    assert data == g.to_dict()
    assert Graph.from_dict(data).node("blocks.0::add").parent == "blocks.0"


def test_run_log_graph_and_watch_record_the_graph(runs_dir: Path) -> None:
    model, x = ZOO["resnet"]()
    with ds.init(name="explicit", dir=runs_dir) as run:
        run.log_graph(model, x)
    with open_reader(run.path) as reader:
        assert reader.graph()["totals"]["params"] == sum(p.numel() for p in model.parameters())

    model, x = ZOO["transformer"]()
    y = torch.randint(0, 10, (x.shape[0],))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with ds.init(name="watched", dir=runs_dir) as run:
        run.watch(model)
        for _ in range(2):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with open_reader(run.path) as reader:
        data = reader.graph()
    assert data is not None and data["tracer"] == "hook"
    assert {n["id"] for n in data["nodes"]} >= {"proj", "encoder.layers.0::add", "head"}
