"""One table of bad inputs (case -> exception -> message) through the API, CLI and server.

Every case must give a specific exception from the API, one ``error:`` line and exit code 2 from
the CLI, and the exception's HTTP status with a one-line JSON error from the server.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import deepscope as ds
from deepscope.cli import app
from deepscope.errors import (
    CorruptRunError,
    DeepscopeError,
    RunNotFoundError,
    RunVersionError,
)
from deepscope.server.app import create_app
from deepscope.store.schema import DB_FILENAME
from deepscope.store.writer import RunWriter


def _good_run(root: Path, name: str) -> Path:
    w = RunWriter(root / name, meta={"name": name, "config": {}})
    for s in range(5000):
        w.log_scalars(s, {"train/loss": 1.0 / (s + 1)})
        if s % 500 == 0:
            w.flush()
    w.close()
    return root / name


def _empty_dir(root: Path) -> Path:
    (root / "empty").mkdir()
    return root / "empty"


def _garbage(root: Path) -> Path:
    d = root / "garbage"
    d.mkdir()
    (d / DB_FILENAME).write_bytes(b"not a database at all " * 200)
    return d


def _truncated(root: Path) -> Path:
    d = _good_run(root, "truncated")
    db = d / DB_FILENAME
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 4])
    return d


def _newer(root: Path) -> Path:
    w = RunWriter(root / "newer", meta={"name": "newer", "schema_version": 7})
    w.close()
    return root / "newer"


def _zero_bytes(root: Path) -> Path:
    d = root / "zero"
    d.mkdir()
    (d / DB_FILENAME).write_bytes(b"")
    return d


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], Path]
    error: type[DeepscopeError]
    message: str


CASES = [
    Case(
        "missing directory",
        lambda root: root / "does-not-exist",
        RunNotFoundError,
        "not a deepscope run",
    ),
    Case("directory without a run", _empty_dir, RunNotFoundError, "not a deepscope run"),
    Case("garbage database", _garbage, CorruptRunError, "corrupt"),
    Case("truncated database", _truncated, CorruptRunError, "corrupt"),
    Case("empty database file", _zero_bytes, CorruptRunError, "corrupt"),
    Case("newer schema", _newer, RunVersionError, "upgrade deepscope"),
]


def _api_read(path: Path) -> None:
    r = ds.open_run(path)
    r.meta()
    r.scalars("train/loss")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_api(case: Case, runs_dir: Path) -> None:
    path = case.make(runs_dir)
    for call in (_api_read, ds.diagnose):
        with pytest.raises(case.error, match=case.message) as info:
            call(path)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("command", ["diagnose", "report"])
def test_cli(case: Case, command: str, runs_dir: Path, tmp_path: Path) -> None:
    path = case.make(runs_dir)
    args = [command, str(path)] + (["-o", str(tmp_path / "r.html")] if command == "report" else [])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and case.message in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.name != "missing directory"], ids=lambda c: c.name
)
def test_server(case: Case, runs_dir: Path) -> None:
    path = case.make(runs_dir)
    client = TestClient(create_app(runs_dir), base_url="http://127.0.0.1")
    resp = client.get(f"/api/runs/{path.name}")
    expected = 404 if case.error is RunNotFoundError else case.error.http_status
    assert resp.status_code == expected
    body = resp.json()
    assert set(body) == {"error"} and "\n" not in body["error"]
    assert client.get("/api/runs").status_code == 200  # one bad run does not break the list


def test_nan_in_data_is_a_finding_not_a_crash(runs_dir: Path) -> None:
    import torch
    from torch import nn

    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with ds.init(dir=runs_dir) as run:
        run.watch(model, optimizer=opt)
        for step in range(5):
            x = torch.randn(16, 4)
            if step == 3:
                x[0, 0] = float("nan")
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            opt.step()
            run.log({"train/loss": loss.item()}, step=step)
    codes = {(f.code, f.layer) for f in ds.diagnose(run.path).findings}
    assert ("nonfinite", "0") in codes
