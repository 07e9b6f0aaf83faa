"""Cached answers are exact, change with the data version, and stay within their byte bound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from pydantic import BaseModel
from server_runs import write_run

from deepscope.server import create_app, schemas
from deepscope.server.cache import ResponseCache
from deepscope.store.records import HistogramSeries, ScalarSeries, StatMatrix, StatSeries

NAN, INF = float("nan"), float("inf")


def test_wire_models_write_the_same_json_as_to_dict() -> None:
    records = [
        (schemas.scalar_series, ScalarSeries("t", np.array([0, 1]), np.array([NAN, 1.5]),
                                             np.array([1.0, 2.0]), 10, True)),
        (schemas.stat_matrix, StatMatrix("grad", "norm", ("a", "b"), np.array([3, 4]),
                                         np.array([[1.0, NAN], [INF, -INF]]))),
        (schemas.stat_series, StatSeries("a", "grad", np.array([1]),
                                         {"mean": np.array([NAN]), "std": np.array([2.0])})),
        (schemas.histogram_series, HistogramSeries("a", "weight", np.array([1]),
                                                   np.array([NAN]), np.array([1.0]),
                                                   np.array([[1, 2, 3]]))),
    ]
    for convert, rec in records:
        assert json.loads(convert(rec).model_dump_json()) == rec.to_dict()


class Fake:
    def __init__(self) -> None:
        self.id, self.path, self.version = "r", "/r", 1

    def data_version(self, part: str | None = None) -> int:
        return self.version


class Body(BaseModel):
    x: str


def test_cache_key_follows_data_version_and_bytes_are_bounded() -> None:
    calls: list[int] = []
    reader = Fake()

    def build() -> Body:
        calls.append(1)
        return Body(x="y" * 100)

    cache = ResponseCache(max_bytes=250)
    first = cache.json(reader, "k", build).body
    assert cache.json(reader, "k", build).body == first and len(calls) == 1
    reader.version = 2
    cache.json(reader, "k", build)
    assert len(calls) == 2
    cache.json(reader, "k2", build)
    cache.json(reader, "k3", build)
    assert cache._size <= 250 and len(cache._items) == 2


def test_live_run_answers_follow_new_data(tmp_path: Path) -> None:
    writer = write_run(tmp_path / "live", steps=5, finish=False)
    client = TestClient(create_app(tmp_path), base_url="http://127.0.0.1")
    url = "/api/runs/live/scalars/series"
    assert client.get(url, params={"tag": "train/loss"}).json()["steps"][-1] == 4
    assert client.get(url, params={"tag": "train/loss"}).json()["steps"][-1] == 4
    writer.log_scalars(9, {"train/loss": 0.1})
    writer.close()
    assert client.get(url, params={"tag": "train/loss"}).json()["steps"][-1] == 9
