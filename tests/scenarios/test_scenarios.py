"""Every scenario trains a real model; diagnosis must find exactly the expected problems."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import deepscope as ds
from deepscope.diagnose.rules import RULES_BY_CODE
from scenarios.registry import BUGGY, SCENARIOS, Scenario

torch.set_num_threads(1)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_scenario_diagnosis(scenario: Scenario, tmp_path: Path) -> None:
    path = scenario.fn(tmp_path)
    result = ds.diagnose(path)
    assert not [w for w in result.skipped.values() if w.startswith("rule failed")], result.skipped
    found = set(result.codes("warning"))
    assert found == set(scenario.expected), result.to_text()
    if scenario.expected:
        hit = [f for f in result.findings if f.code in scenario.expected]
        assert all(f.message and f.suggestion for f in hit)
    else:
        assert result.ok


def test_two_buggy_scenarios_per_code() -> None:
    from scenarios import suite, transformer_suite

    buggy = [s.expected for s in BUGGY] + [c.expected for c in suite.BUGGY]
    buggy += [c.expected for c in transformer_suite.UNSTABLE]
    per_code = {code: sum(code in e for e in buggy) for code in RULES_BY_CODE}
    assert all(n >= 2 for n in per_code.values()), per_code
    assert len(SCENARIOS) - len(BUGGY) >= 6
