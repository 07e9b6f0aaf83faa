"""``/stats?format=binary``: the same matrix as the JSON answer, smaller, with Inf kept."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from deepscope.server import create_app
from deepscope.server.binary import decode_matrix, encode_matrix
from deepscope.store.records import LayerInfo, StatMatrix
from deepscope.store.schema import STAT_FIELDS
from deepscope.store.writer import RunWriter

RUN = "mlp-a"


def test_binary_matrix_equals_the_json_one(client: TestClient) -> None:
    params = {"kind": "grad", "field": "norm", "max_steps": 5}
    js = client.get(f"/api/runs/{RUN}/stats", params=params).json()
    resp = client.get(f"/api/runs/{RUN}/stats", params={**params, "format": "binary"})
    assert resp.headers["content-type"] == "application/octet-stream"
    got = decode_matrix(resp.content)
    assert got["layers"] == js["layers"] and got["steps"] == js["steps"]
    assert got["dtype"] == "f32"
    np.testing.assert_allclose(got["values"], np.array(js["values"], dtype=float), rtol=1e-6)


def test_binary_keeps_infinities_and_precision_that_float32_would_lose() -> None:
    values = np.array([[1.0, math.inf, math.nan], [1e-45, 1e39, 0.0]])
    rec = StatMatrix("grad", "norm", ("a", "b"), np.array([0, 5, 9]), values)
    got = decode_matrix(encode_matrix(rec))
    assert got["dtype"] == "f64"  # 1e-45 and 1e39 do not survive float32
    assert got["values"][0, 1] == math.inf and math.isnan(got["values"][0, 2])
    assert got["values"][1, 0] == 1e-45 and got["values"][1, 1] == 1e39
    small = StatMatrix("grad", "norm", ("a",), np.array([0]), np.array([[math.inf]]))
    assert decode_matrix(encode_matrix(small))["dtype"] == "f32"


def test_unknown_format_is_a_400(client: TestClient) -> None:
    resp = client.get(f"/api/runs/{RUN}/stats",
                      params={"kind": "grad", "field": "norm", "format": "xml"})
    assert resp.status_code == 400 and "format" in resp.json()["error"]


def test_thinned_matrix_keeps_every_layer_and_the_end_steps(tmp_path: Path) -> None:
    """Steps are thinned in the query; a layer recorded only between kept steps still shows."""
    w = RunWriter(tmp_path / "r", meta={"name": "r", "config": {}})
    w.set_layers([LayerInfo(n, "Linear", "other", i, 1, 1) for i, n in enumerate("ab")])
    row = np.full(len(STAT_FIELDS), 1.0)
    for step in range(100):
        w.log_stats(step, [("a", "grad", row * step)])
    w.log_stats(51, [("b", "grad", row)])
    w.close()
    client = TestClient(create_app(tmp_path, static_dir=tmp_path / "none"),
                        base_url="http://127.0.0.1")
    m = client.get("/api/runs/r/stats", params={"kind": "grad", "field": "norm",
                                                  "max_steps": 10}).json()
    assert m["layers"] == ["a", "b"] and len(m["steps"]) == 10
    assert m["steps"][0] == 0 and m["steps"][-1] == 99
    assert m["values"][0] == pytest.approx(m["steps"])
    assert all(v is None for v in m["values"][1])
