"""Every endpoint of the JSON API on synthetic runs written through RunWriter."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from server_runs import LAYERS, TAGS, tiny_png

from deepscope.server.summary import SEVERITIES

RUN = "mlp-a"
NESTED = "team~exp-1"


def test_health_reports_version(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["version"]


def test_runs_lists_readable_nested_and_unreadable(client: TestClient) -> None:
    runs = {r["id"]: r for r in client.get("/api/runs").json()}
    assert set(runs) == {RUN, NESTED, "broken"}
    assert runs[RUN]["status"] == "finished" and runs[RUN]["name"] == "mlp-a"
    assert runs[RUN]["config"] == {"lr": 0.01}
    assert runs["broken"]["status"] == "unreadable"
    assert "corrupt" in runs["broken"]["error"]
    assert runs[RUN]["findings"] is None or set(runs[RUN]["findings"]) == set(SEVERITIES)


def test_run_list_finding_counts_arrive_without_blocking(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        counts = {r["id"]: r["findings"] for r in client.get("/api/runs").json()}
        if counts[RUN] is not None and counts[NESTED] is not None:
            break
        time.sleep(0.05)
    assert set(counts[RUN]) == set(SEVERITIES)
    expected = client.get(f"/api/runs/{RUN}/findings").json()["findings"]
    assert sum(counts[RUN].values()) == len(expected)
    assert client.get(f"/api/runs/{RUN}").json()["findings"] == counts[RUN]


def test_run_detail_has_tags_layers_kinds(client: TestClient) -> None:
    body = client.get(f"/api/runs/{RUN}").json()
    assert body["tags"] == sorted(TAGS)
    assert body["layers"] == len(LAYERS)
    assert body["kinds"] == ["weight", "grad", "activation"]
    assert body["last_step"] == 39 and body["duration"] is not None


def test_scalar_tags_and_series(client: TestClient) -> None:
    assert client.get(f"/api/runs/{RUN}/scalars").json() == {"tags": sorted(TAGS)}
    body = client.get(f"/api/runs/{RUN}/scalars/series", params={"tag": "train/loss"}).json()
    assert body["tag"] == "train/loss" and body["total_points"] == 40
    assert body["steps"] == list(range(40)) and body["values"][0] == pytest.approx(2.0)
    assert not body["downsampled"] and len(body["walls"]) == 40


def test_scalar_series_downsamples_keeping_extremes(client: TestClient) -> None:
    body = client.get(f"/api/runs/{RUN}/scalars/series",
                      params={"tag": "train/loss", "max_points": 10}).json()
    assert body["downsampled"] and len(body["steps"]) <= 10
    assert body["steps"][0] == 0 and body["steps"][-1] == 39
    window = client.get(f"/api/runs/{RUN}/scalars/series",
                        params={"tag": "train/loss", "start": 10, "end": 19}).json()
    assert window["steps"] == list(range(10, 20))


def test_layers(client: TestClient) -> None:
    layers = client.get(f"/api/runs/{RUN}/layers").json()
    assert [x["name"] for x in layers] == list(LAYERS)
    assert layers[0]["params"][0]["shape"] == [8, 16]
    assert layers[0]["params"][0]["in_optimizer"] is True


def test_stat_matrix(client: TestClient) -> None:
    body = client.get(f"/api/runs/{RUN}/stats", params={"kind": "grad", "field": "norm"}).json()
    assert body["layers"] == ["fc1", "fc2"] and body["steps"] == list(range(0, 40, 5))
    assert body["values"][0][1] == pytest.approx(1.5)
    thin = client.get(f"/api/runs/{RUN}/stats",
                      params={"kind": "grad", "field": "norm", "max_steps": 3}).json()
    assert thin["steps"][0] == 0 and thin["steps"][-1] == 35 and len(thin["steps"]) == 3


def test_stat_series_all_and_selected_fields(client: TestClient) -> None:
    body = client.get(f"/api/runs/{RUN}/stats/series",
                      params={"layer": "act1", "kind": "activation"}).json()
    assert body["layer"] == "act1" and len(body["steps"]) == 8
    assert body["fields"]["dead_frac"][0] == pytest.approx(0.05)
    assert body["fields"]["update_ratio"][0] is None  # NaN -> null in JSON
    some = client.get(f"/api/runs/{RUN}/stats/series",
                      params={"layer": "fc1", "kind": "weight", "fields": "mean,std"}).json()
    assert set(some["fields"]) == {"mean", "std"}


def test_histograms(client: TestClient) -> None:
    body = client.get(f"/api/runs/{RUN}/histograms",
                      params={"layer": "fc1", "kind": "weight", "max_steps": 4}).json()
    assert len(body["steps"]) == 4 and len(body["counts"][0]) == 16
    assert body["lo"][0] == -2.0 and body["hi"][0] == 2.0


def test_graph_and_missing_graph(client: TestClient) -> None:
    body = client.get(f"/api/runs/{RUN}/graph").json()
    assert body["format"] == "deepscope.graph/1" and len(body["nodes"]) == len(LAYERS) + 2
    missing = client.get(f"/api/runs/{NESTED}/graph")
    assert missing.status_code == 404 and "no architecture graph" in missing.json()["error"]


def test_findings_shape(client: TestClient) -> None:
    body = client.get(f"/api/runs/{RUN}/findings").json()
    assert isinstance(body["ok"], bool)
    for f in body["findings"]:
        assert set(f) == {"code", "severity", "layer", "step", "message", "evidence",
                          "suggestion"}
        assert f["severity"] in ("info", "warning", "error")


def test_artifacts_list_detail_and_blobs(client: TestClient) -> None:
    arts = client.get(f"/api/runs/{RUN}/artifacts").json()
    assert len(arts) == 1 and arts[0]["blob_keys"] == ["image", "page"]
    aid = arts[0]["id"]
    detail = client.get(f"/api/runs/{RUN}/artifacts/{aid}").json()
    assert detail["info"]["kind"] == "attribution" and detail["data"]["method"] == "saliency"
    png = client.get(f"/api/runs/{RUN}/artifacts/{aid}/blobs/image")
    assert png.headers["content-type"] == "image/png" and png.content == tiny_png()
    html = client.get(f"/api/runs/{RUN}/artifacts/{aid}/blobs/page")
    assert html.headers["content-type"] == "application/octet-stream"
    assert html.headers["content-disposition"].startswith("attachment")
    assert html.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/api/runs/{RUN}/artifacts/{aid}/blobs/nope").status_code == 404
    assert client.get(f"/api/runs/{RUN}/artifacts/999").status_code == 404


def test_openapi_schema_lists_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/api/runs", "/api/runs/{run_id}/scalars/series", "/api/runs/{run_id}/stats",
              "/api/runs/{run_id}/histograms", "/api/events",
              "/api/runs/{run_id}/artifacts/{artifact_id}/blobs/{key}"):
        assert p in paths
