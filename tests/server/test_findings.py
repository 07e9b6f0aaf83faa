"""Findings: diagnosis when present, stored live findings otherwise, cached per data version."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_runs import write_run

from deepscope.server import create_app, summary


@dataclass
class FakeFinding:
    code: str
    severity: str

    def to_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "layer": "fc1", "step": 3,
                "message": "m", "evidence": {"x": 1.0}, "suggestion": "s"}


@dataclass
class FakeDiagnosis:
    findings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity in ("warning", "error") for f in self.findings)


def test_stored_findings_without_diagnosis_engine(client: TestClient, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(summary, "_diagnose_fn", lambda: None)
    body = client.get("/api/runs/mlp-a/findings").json()
    assert body["ok"] is False
    assert [f["code"] for f in body["findings"]] == ["loss_plateau"]
    assert "source" not in body["findings"][0]


def test_diagnosis_used_and_cached_per_data_version(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    calls: list[str] = []

    def fake_diagnose(reader, config=None):  # noqa: ANN001, ANN202
        calls.append(reader.path)
        return FakeDiagnosis([FakeFinding("dead_units", "warning"), FakeFinding("x", "info")])

    monkeypatch.setattr(summary, "_diagnose_fn", lambda: fake_diagnose)
    writer = write_run(tmp_path / "r", steps=3, finish=False)
    client = TestClient(create_app(tmp_path), base_url="http://127.0.0.1")
    body = client.get("/api/runs/r/findings").json()
    assert body["ok"] is False and body["findings"][0]["code"] == "dead_units"
    client.get("/api/runs/r/findings")
    runs = client.get("/api/runs").json()
    assert runs[0]["findings"] == {"info": 1, "warning": 1, "error": 0}
    assert len(calls) == 1
    writer.log_scalars(50, {"train/loss": 1.0})
    writer.close()
    client.get("/api/runs/r/findings")
    assert len(calls) == 2


def test_count_findings() -> None:
    counts = summary.count_findings([{"severity": "error"}, {"severity": "error"}, {}])
    assert counts == {"info": 0, "warning": 0, "error": 2}


@pytest.mark.parametrize("maxsize", [1, 2])
def test_cache_is_bounded(tmp_path: Path, maxsize: int, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(summary, "_diagnose_fn", lambda: None)
    from deepscope.store import open_reader

    cache = summary.FindingsCache(maxsize=maxsize)
    for i in range(3):
        write_run(tmp_path / f"r{i}", steps=2)
        with open_reader(tmp_path / f"r{i}") as reader:
            cache.get(reader)
    assert len(cache._items) == maxsize


def test_live_run_is_rediagnosed_at_most_every_interval(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    calls: list[str] = []

    def fake_diagnose(reader, config=None):  # noqa: ANN001, ANN202
        calls.append(reader.path)
        return FakeDiagnosis([])

    monkeypatch.setattr(summary, "_diagnose_fn", lambda: fake_diagnose)
    writer = write_run(tmp_path / "r", steps=3, finish=False)
    client = TestClient(create_app(tmp_path), base_url="http://127.0.0.1")
    client.get("/api/runs/r/findings")
    writer.log_scalars(50, {"train/loss": 1.0})
    writer.flush()
    client.get("/api/runs/r/findings")
    assert len(calls) == 1  # still running, diagnosed less than LIVE_INTERVAL ago
    monkeypatch.setattr(summary.FindingsCache, "LIVE_INTERVAL", 0.0)
    client.get("/api/runs/r/findings")
    assert len(calls) == 2
    writer.close()
