"""diagnose(): inputs it accepts, configuration, stored live findings, symptoms, renderings."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from deepscope.cli import app
from deepscope.diagnose import Diagnosis, Finding, diagnose
from deepscope.diagnose.engine import parse_config
from deepscope.errors import InvalidArgumentError, RunNotFoundError
from deepscope.store import open_reader
from diagnose.synth import ROOT, act, healthy_rows, linear, loss_curve, write_run

KEYS = {"code", "severity", "layer", "step", "message", "evidence", "suggestion"}
LAYERS = [linear("fc1", 0), act("relu1", 1), linear("fc2", 2), ROOT]
STEPS = list(range(0, 200, 10))


def _dead_run(path: Path, dead: float = 0.93, **kw: object) -> Path:
    def rows(s: int) -> list:
        return healthy_rows(["fc1", "fc2"], s) + [
            ("relu1", "activation", {"count": 6400, "min": 0.0, "max": 2.0, "zero_frac": 0.9,
                                     "dead_frac": dead, "nonfinite": 0})]

    return write_run(path, LAYERS, STEPS, rows, scalars={"train/loss": loss_curve("flat")}, **kw)


def test_accepts_path_reader_and_run_like(tmp_path: Path) -> None:
    path = _dead_run(tmp_path / "r")
    by_path = diagnose(str(path))
    with open_reader(path) as reader:
        by_reader = diagnose(reader)
    by_run = diagnose(SimpleNamespace(path=path))
    assert by_path.codes() == by_reader.codes() == by_run.codes() == ["dead_units"]
    with pytest.raises(RunNotFoundError):
        diagnose(tmp_path / "missing")
    with pytest.raises(InvalidArgumentError):
        diagnose(42)


def test_plateau_is_reported_as_symptom_of_dead_units(tmp_path: Path) -> None:
    result = diagnose(_dead_run(tmp_path / "r"))
    plateau = [f for f in result.findings if f.code == "loss_plateau"]
    assert [f.severity for f in plateau] == ["info"]
    assert plateau[0].evidence["explained_by"] == "dead_units"
    dead = next(f for f in result.findings if f.code == "dead_units")
    # Its own fix (a higher lr) would contradict the cause's: the cause's fix is given.
    assert plateau[0].suggestion == f"fix dead_units first: {dead.suggestion}"
    assert not result.ok


def test_config_flat_nested_typed_and_rejected() -> None:
    assert parse_config({"dead_units.threshold": "0.6"}) == ({"dead_units": {"threshold": 0.6}},
                                                             set())
    assert parse_config({"loss_plateau": {"enabled": "false"}}) == ({}, {"loss_plateau"})
    for bad in ({"dead.threshold": 1}, {"dead_units.nope": 1}, {"dead_units.threshold": "x"},
                {"dead_units.min_steps": "many"}):
        with pytest.raises(InvalidArgumentError) as err:
            parse_config(bad)
        assert "\n" not in str(err.value)


def test_config_changes_the_verdict(tmp_path: Path) -> None:
    path = _dead_run(tmp_path / "r", dead=0.6)
    assert "dead_units" in diagnose(path).codes()
    assert "dead_units" not in diagnose(path, {"dead_units.threshold": 0.7}).codes()
    assert diagnose(path, {"dead_units": {"enabled": False}, "loss_plateau.enabled": 0}).ok


def test_stored_live_findings_are_combined_once(tmp_path: Path) -> None:
    live = [Finding("dead_units", "error", "relu1", 30, "live", {}, "fix").to_dict(),
            Finding("gradients_not_zeroed", "error", None, 4, "seen", {"n": 1}, "fix").to_dict(),
            Finding("no_gradient", "warning", "fc9", 10, "gone", {"n": 1}, "fix").to_dict()]
    result = diagnose(_dead_run(tmp_path / "r", findings=live))
    keys = [(f.code, f.layer) for f in result.findings]
    assert keys.count(("dead_units", "relu1")) == 1
    assert ("gradients_not_zeroed", None) in keys  # judged from events as they came
    # A live verdict on the statistics written by then gives way to the rule's verdict on all
    # of them (no layer fc9 lost its gradient in the stored run).
    assert ("no_gradient", "fc9") not in keys


def test_renderings(tmp_path: Path) -> None:
    result = diagnose(_dead_run(tmp_path / "r"))
    data = json.loads(result.to_json())
    assert isinstance(data, list) and all(set(d) == KEYS for d in data)
    md = result.to_markdown()
    assert "`dead_units`" in md and "relu1" in md and "Suggestion" in md
    assert "dead_units" in result.to_text()
    clean = Diagnosis([])
    assert clean.ok and clean.to_json() == "[]" and "clean bill" in clean.to_markdown()
    f = Finding("x", "warning", None, None, "m", {"v": np.float32(1.5), "n": np.int64(2),
                                                  "bad": float("nan")}, "s")
    assert json.loads(json.dumps(f.to_dict()))["evidence"] == {"v": 1.5, "n": 2, "bad": None}


def test_cli_formats_fail_on_and_set(tmp_path: Path) -> None:
    path = str(_dead_run(tmp_path / "r"))
    runner = CliRunner()
    res = runner.invoke(app, ["diagnose", path, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert {d["code"] for d in json.loads(res.output)} == {"dead_units", "loss_plateau"}
    assert runner.invoke(app, ["diagnose", path, "--fail-on", "warning"]).exit_code == 1
    assert runner.invoke(app, ["diagnose", path, "--fail-on", "error"]).exit_code == 1
    ok = runner.invoke(app, ["diagnose", path, "--fail-on", "warning", "--set",
                             "dead_units.enabled=false", "--set", "loss_plateau.enabled=no"])
    assert ok.exit_code == 0, ok.output
    res = runner.invoke(app, ["diagnose", path, "--format", "markdown"])
    assert res.exit_code == 0 and res.output.startswith("# Diagnosis")
    for args in (["--set", "dead_units.nope=1"], ["--set", "garbage"], ["--format", "xml"],
                 ["--fail-on", "info"]):
        res = runner.invoke(app, ["diagnose", path, *args])
        assert res.exit_code == 2 and "error:" in res.output
    res = runner.invoke(app, ["diagnose", str(tmp_path / "nothing")])
    assert res.exit_code == 2


def test_run_without_statistics_says_what_was_not_checked(tmp_path: Path) -> None:
    path = write_run(tmp_path / "r", [], [], None, scalars={"train/loss": loss_curve("healthy")})
    result = diagnose(path)
    assert result.ok and result.findings == []
    assert "grad" in result.skipped["vanishing_gradients"]
    assert "Not checked" in result.to_markdown()
    empty = diagnose(write_run(tmp_path / "e", [], [], None))
    assert empty.ok and "scalars" in empty.skipped["loss_plateau"]
