"""The bad-input table (``cases.py``) through the API, the CLI and the server.

Every case gives its specific exception from the API, one ``error:`` line and exit code 2 from
the CLI, and the exception's HTTP status with a one-line JSON error from the server; a bad run
never breaks a listing and never passes diagnosis.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from cases import CALLS, COMMANDS, REQUESTS, RUNS, CallCase, CommandCase, RequestCase, RunCase
from cases import good_run as _good_run
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import deepscope as ds
from deepscope.cli import app
from deepscope.server.app import create_app
from deepscope.store.rundir import slug

runner = CliRunner()


@pytest.fixture(scope="module")
def bad_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-runs")
    for case in RUNS:
        case.make(root / slug(case.name))
    _good_run(root / "ok")
    outside = _good_run(tmp_path_factory.mktemp("outside") / "secret")
    (root / "linked").mkdir()
    os.symlink(outside / "deepscope.db", root / "linked" / "deepscope.db")
    return root


def _read_everything(reader: ds.RunReader) -> None:
    reader.meta()
    for tag in reader.scalar_tags():
        reader.scalars(tag)
    for layer in reader.layers():
        for kind in reader.stat_kinds():
            reader.stat_series(layer.name, kind)
            reader.stat_matrix(kind, "norm")
        reader.histograms(layer.name, "weight")
    reader.graph()
    reader.findings()
    reader.events()
    for info in reader.artifacts():
        reader.artifact(info.id)
    reader.data_version()


def _one_error_line(output: str, message: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    assert message in lines[0] and "Traceback" not in output


@pytest.mark.parametrize("case", RUNS, ids=lambda c: c.name)
def test_run_through_the_api(case: RunCase, bad_root: Path) -> None:
    path = bad_root / slug(case.name)
    with pytest.raises(case.error, match=case.message) as info:
        with ds.open_run(path) as reader:
            if case.level == "open":
                pytest.fail("the run opened")
            _read_everything(reader)
    assert "\n" not in str(info.value)
    if case.level in ("open", "meta"):
        with pytest.raises(case.error, match=case.message):
            ds.diagnose(path)
    else:  # the rules may not need the damaged part; if they do, the diagnosis says so
        try:
            ds.diagnose(path)
        except case.error as err:
            assert "\n" not in str(err)


@pytest.mark.parametrize("case", RUNS, ids=lambda c: c.name)
@pytest.mark.parametrize("options", [[], ["--format", "json", "--fail-on", "warning"],
                                     ["--format", "markdown", "--fail-on", "error"]],
                         ids=["text", "json", "markdown"])
def test_run_through_cli_diagnose(case: RunCase, options: list[str], bad_root: Path) -> None:
    result = runner.invoke(app, ["diagnose", str(bad_root / slug(case.name)), *options])
    if case.level in ("open", "meta") or result.exit_code == 2:
        assert result.exit_code == 2, result.output
        _one_error_line(result.output, "" if case.level == "data" else case.message)
    else:
        assert result.exit_code in (0, 1) and "Traceback" not in result.output


@pytest.mark.parametrize("case", [c for c in RUNS if c.level != "data"], ids=lambda c: c.name)
def test_run_through_cli_report(case: RunCase, bad_root: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(bad_root / slug(case.name)), "-o",
                                 str(tmp_path / "r.html")])
    assert result.exit_code == 2
    _one_error_line(result.output, "")


def test_ls_lists_every_run_and_says_which_are_unreadable(bad_root: Path) -> None:
    result = runner.invoke(app, ["ls", str(bad_root), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["id"]: row for row in json.loads(result.output)}
    for case in RUNS:
        row = rows[slug(case.name)]
        assert ("status" not in row) == (case.level in ("open", "meta")), (case.name, row)
        if "status" not in row:
            assert case.message in row["error"]
    assert rows["ok"]["status"] == "finished"
    table = runner.invoke(app, ["ls", str(bad_root)], env={"COLUMNS": "80"})
    assert table.exit_code == 0 and "Traceback" not in table.output
    for case in RUNS:  # whole ids at 80 columns, and why each unreadable run is unreadable
        assert slug(case.name) in table.output
        if case.level != "data":
            assert f"unreadable {slug(case.name)}: " in table.output


def test_server_lists_every_run_and_answers_each_error(bad_root: Path, tmp_path: Path) -> None:
    client = TestClient(create_app(bad_root, static_dir=tmp_path / "s"),
                        base_url="http://127.0.0.1")
    listed = client.get("/api/runs")
    assert listed.status_code == 200
    rows = {row["id"]: row for row in listed.json()}
    assert "linked" not in rows  # its database lies outside the served directory
    for case in RUNS:
        rid = slug(case.name)
        assert (rows[rid]["status"] == "unreadable") == (case.level in ("open", "meta"))
        detail = client.get(f"/api/runs/{rid}")
        if case.level != "data":
            assert detail.status_code == case.error.http_status
            body = detail.json()
            assert set(body) == {"error"} and "\n" not in body["error"]
            assert str(bad_root) not in body["error"]
        elif case.http:
            resp = client.get(f"/api/runs/{rid}{case.http}")
            assert resp.status_code == case.error.http_status, resp.text
            assert case.message in resp.json()["error"]
        findings = client.get(f"/api/runs/{rid}/findings")
        assert findings.status_code in (200, case.error.http_status)


def test_a_run_whose_diagnosis_fails_is_listed_as_unreadable(bad_root: Path,
                                                             tmp_path: Path) -> None:
    client = TestClient(create_app(bad_root, static_dir=tmp_path / "s"),
                        base_url="http://127.0.0.1")
    rid = slug("statistic that is text")
    assert client.get(f"/api/runs/{rid}/findings").status_code == 422
    row = next(r for r in client.get("/api/runs").json() if r["id"] == rid)
    assert row["status"] == "unreadable" and "statistics" in row["error"]


@pytest.mark.parametrize("case", CALLS, ids=lambda c: c.name)
def test_call(case: CallCase, runs_dir: Path) -> None:
    with pytest.raises(case.error, match=re.escape(case.message)) as info:
        case.call(runs_dir)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", COMMANDS, ids=lambda c: c.name)
def test_command(case: CommandCase, tmp_path: Path) -> None:
    result = runner.invoke(app, case.args(tmp_path))
    assert result.exit_code == 2, result.output
    _one_error_line(result.output, case.message)


@pytest.mark.parametrize("case", REQUESTS, ids=lambda c: c.name)
def test_request(case: RequestCase, bad_root: Path, tmp_path: Path) -> None:
    client = TestClient(create_app(bad_root, static_dir=tmp_path / "s"),
                        base_url="http://127.0.0.1")
    resp = client.get(case.path)
    assert resp.status_code == case.status, resp.text
    message = resp.json()["error"]
    assert "\n" not in message and case.message in message
    assert str(bad_root) not in message and str(bad_root.resolve()) not in message


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
