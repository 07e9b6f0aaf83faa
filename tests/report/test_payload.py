"""The report payload has the API's shapes and fits its budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_runs import write_run

from deepscope.report.payload import LEVELS, build_payload, payload_json, to_script_json
from deepscope.server import create_app
from deepscope.store import open_reader


@pytest.fixture(scope="module")
def payload(run_dir: Path) -> dict:
    with open_reader(run_dir) as reader:
        return build_payload(reader)


def test_payload_keys_and_shapes_match_the_api(payload: dict, run_dir: Path) -> None:
    api = TestClient(create_app(run_dir.parent), base_url="http://127.0.0.1")
    rid = run_dir.name
    assert set(payload) == {"runs", "scalars", "layers", "stats", "histograms", "graph",
                            "findings", "artifacts", "transformer"}
    assert payload["transformer"] == {}  # no attention: the views say "not recorded"
    detail = api.get(f"/api/runs/{rid}").json()
    assert set(payload["runs"][0]) == set(detail)
    assert payload["runs"][0]["path"] == rid  # no local path in a mailed file
    assert payload["scalars"][rid]["train/loss"] == api.get(
        f"/api/runs/{rid}/scalars/series", params={"tag": "train/loss"}).json()
    assert payload["layers"][rid] == api.get(f"/api/runs/{rid}/layers").json()
    assert payload["stats"][rid]["grad/norm"] == api.get(
        f"/api/runs/{rid}/stats", params={"kind": "grad", "field": "norm"}).json()
    assert payload["histograms"][rid]["weight/fc1"] == api.get(
        f"/api/runs/{rid}/histograms",
        params={"layer": "fc1", "kind": "weight", "max_steps": 100}).json()
    assert payload["graph"][rid] == api.get(f"/api/runs/{rid}/graph").json()
    assert payload["findings"][rid] == api.get(f"/api/runs/{rid}/findings").json()


def test_unrecorded_pairs_are_absent(payload: dict, run_dir: Path) -> None:
    stats = payload["stats"][run_dir.name]
    assert "activation/dead_frac" in stats and "grad/dead_frac" not in stats
    assert "update/norm" not in stats and "weight/update_ratio" not in stats
    assert "grad/act1" not in payload["histograms"][run_dir.name]


def test_artifact_blobs_are_data_uris_with_safe_types(payload: dict, run_dir: Path) -> None:
    (art,) = payload["artifacts"][run_dir.name]
    assert art["info"]["kind"] == "attribution" and art["data"]["method"] == "saliency"
    assert art["blobs"]["image"].startswith("data:image/png;base64,iVBOR")
    assert art["blobs"]["page"].startswith("data:application/octet-stream;base64,")


def test_script_json_cannot_close_its_element() -> None:
    text = to_script_json({"tag": "</script><!-- & \u2028", "nan": None})
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == {"tag": "</script><!-- & \u2028", "nan": None}


def test_budget_lowers_the_resolution(tmp_path: Path) -> None:
    run_dir = tmp_path / "long"
    write_run(run_dir, steps=1500)
    full, level = payload_json(run_dir)
    assert level == LEVELS[0]
    small, level = payload_json(run_dir, max_bytes=len(full) // 2)
    assert level != LEVELS[0] and len(small) < len(full)
    assert json.loads(small)["runs"][0]["id"] == run_dir.name


def test_several_runs_share_one_payload_with_unique_ids(tmp_path: Path) -> None:
    write_run(tmp_path / "x" / "mlp", name="a")
    a = tmp_path / "x" / "mlp"
    write_run(tmp_path / "y" / "mlp", name="b", steps=12)
    b = tmp_path / "y" / "mlp"
    text, _ = payload_json([a, b])
    payload = json.loads(text)
    ids = [r["id"] for r in payload["runs"]]
    assert ids == ["mlp", "mlp-2"]  # two directories of the same name stay apart
    assert [r["name"] for r in payload["runs"]] == ["a", "b"]
    for key in ("scalars", "layers", "stats", "histograms", "graph", "findings", "artifacts"):
        assert set(payload[key]) == set(ids), key
    assert payload["scalars"]["mlp-2"]["train/loss"]["total_points"] == 12
    # a budget too small for both: every coarser level is tried, the coarsest is kept
    _, level = payload_json([a, b], max_bytes=len(text) // 2)
    assert level == LEVELS[-1]
