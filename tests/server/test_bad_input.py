"""Bad ids, traversal attempts, unknown kinds and fields, corrupt runs: one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_runs import write_run

from deepscope.server import create_app

RUN = "mlp-a"


def _error(resp, status: int) -> str:  # noqa: ANN001
    assert resp.status_code == status, resp.text
    message = resp.json()["error"]
    assert "\n" not in message and message
    return message


@pytest.mark.parametrize("run_id", ["nope", "team~nope", "mlp-a~x"])
def test_unknown_run_is_404(client: TestClient, run_id: str) -> None:
    assert "no run" in _error(client.get(f"/api/runs/{run_id}/layers"), 404)


@pytest.mark.parametrize("path", [
    "/api/runs/%2e%2e/layers",
    "/api/runs/..~..~etc/layers",
    "/api/runs/~..~/layers",
    "/api/runs/team~..~..~x/layers",
    "/api/runs/.../scalars",
    "/api/runs/%2Fetc%2Fpasswd/layers",
    "/api/runs/a%00b/layers",
    "/api/runs/a%5Cb/layers",
])
def test_traversal_attempts_are_refused(client: TestClient, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code in (400, 403, 404), resp.text
    assert "error" in resp.json()


def test_symlink_out_of_root_is_403(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write_run(outside / "secret", steps=3)
    root.mkdir()
    os.symlink(outside / "secret", root / "link")
    client = TestClient(create_app(root, static_dir=tmp_path / "s"), base_url="http://127.0.0.1")
    assert "outside" in _error(client.get("/api/runs/link/layers"), 403)


def test_corrupt_run_is_422_one_line(client: TestClient) -> None:
    assert "corrupt" in _error(client.get("/api/runs/broken"), 422)
    assert "corrupt" in _error(client.get("/api/runs/broken/scalars"), 422)


@pytest.mark.parametrize("query", [
    {"kind": "gradient", "field": "norm"},
    {"kind": "grad", "field": "median"},
    {"kind": "grad"},
    {"kind": "grad", "field": "norm", "max_steps": 0},
    {"kind": "grad", "field": "norm", "max_steps": "many"},
])
def test_bad_stat_matrix_arguments_are_400(client: TestClient, query: dict) -> None:
    _error(client.get(f"/api/runs/{RUN}/stats", params=query), 400)


def test_unknown_kind_message_names_the_parameter(client: TestClient) -> None:
    msg = _error(client.get(f"/api/runs/{RUN}/histograms",
                            params={"layer": "fc1", "kind": "bogus"}), 400)
    assert "kind" in msg


@pytest.mark.parametrize("query", [
    {"tag": "train/loss", "max_points": 0},
    {"tag": "train/loss", "max_points": 100_001},
    {"tag": "train/loss", "start": 10, "end": 5},
    {"tag": "bad\x01tag"},
    {"tag": ""},
    {"tag": "x" * 600},
    {},
])
def test_bad_scalar_arguments_are_400(client: TestClient, query: dict) -> None:
    _error(client.get(f"/api/runs/{RUN}/scalars/series", params=query), 400)


def test_bad_fields_list_is_400(client: TestClient) -> None:
    msg = _error(client.get(f"/api/runs/{RUN}/stats/series",
                            params={"layer": "fc1", "kind": "weight", "fields": "mean,nope"}), 400)
    assert "nope" in msg


def test_not_recorded_is_404_saying_how_to_enable(client: TestClient) -> None:
    assert "never logged" in _error(
        client.get(f"/api/runs/{RUN}/scalars/series", params={"tag": "nope"}), 404)
    assert "not recorded" in _error(
        client.get(f"/api/runs/{RUN}/stats/series", params={"layer": "nope", "kind": "grad"}), 404)
    assert "optimizer" in _error(
        client.get(f"/api/runs/{RUN}/stats/series", params={"layer": "fc1", "kind": "update"}),
        404)
    assert "histograms" in _error(
        client.get(f"/api/runs/{RUN}/histograms", params={"layer": "act1", "kind": "grad"}), 404)


@pytest.mark.parametrize("path", ["/api/runs/mlp-a/artifacts/0", "/api/runs/mlp-a/artifacts/x",
                                  "/api/runs/mlp-a/artifacts/1/blobs/..%2Fx"])
def test_bad_artifact_ids_and_keys(client: TestClient, path: str) -> None:
    assert client.get(path).status_code in (400, 404)


def test_unknown_api_route_is_json_404(client: TestClient) -> None:
    assert "no API route" in _error(client.get("/api/nothing-here"), 404)


def test_missing_root_serves_an_empty_list(tmp_path: Path) -> None:
    client = TestClient(create_app(tmp_path / "not-yet"), base_url="http://127.0.0.1")
    assert client.get("/api/runs").json() == []
    assert client.get("/api/runs/x/layers").status_code == 404
