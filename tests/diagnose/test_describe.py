"""``deepscope diagnose --explain CODE``: what the rule checks, its thresholds, the fix."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deepscope.cli import app
from deepscope.diagnose.describe import describe_rule
from deepscope.diagnose.rules import ALL_RULES
from deepscope.errors import InvalidArgumentError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "diagnosis.md"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_explains_itself_from_its_code(rule) -> None:  # noqa: ANN001
    d = describe_rule(rule.code)
    assert d.summary and len(d.mechanism) > 80 and d.fix
    assert [t.name for t in d.thresholds] == [f.name for f in dataclasses.fields(rule.Params)]
    assert all(t.doc for t in d.thresholds), [t.name for t in d.thresholds if not t.doc]
    text = d.to_text()
    for t in d.thresholds:
        assert f"{t.name} = {t.default!r}" in text


def test_cli_explain_prints_thresholds_and_fix() -> None:
    out = CliRunner().invoke(app, ["diagnose", "--explain", "update_underflow"])
    assert out.exit_code == 0, out.output
    assert "What it checks:" in out.output and "share = 0.5" in out.output
    assert "fp32 master weights" in out.output and "--set update_underflow." in out.output


def test_cli_explain_unknown_code_is_one_line() -> None:
    out = CliRunner().invoke(app, ["diagnose", "--explain", "dead_unit"])
    assert out.exit_code == 2 and "unknown finding code 'dead_unit'" in out.output
    assert "Traceback" not in out.output
    with pytest.raises(InvalidArgumentError):
        describe_rule("dead_unit")
    missing = CliRunner().invoke(app, ["diagnose"])
    assert missing.exit_code == 2 and "RUN_DIR" in missing.output


def test_docs_list_every_finding_code_once() -> None:
    table = DOCS.read_text().split("## Finding codes", 1)[1].split("\n## ", 1)[0]
    codes = re.findall(r"^\| `(\w+)` \|", table, re.MULTILINE)
    assert codes == [r.code for r in ALL_RULES]
