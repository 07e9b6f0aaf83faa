"""The suite of real-looking trainings, on three seeds: every label is proven by raw measurements
taken without deepscope, then diagnosis must find exactly the labelled codes.
"""

from __future__ import annotations

import pytest
import torch

import deepscope as ds
from scenarios.suite import BUGGY, CASES, HEALTHY, NEW_CODES, SEEDS, Case, label_problems

torch.set_num_threads(1)

PARAMS = [pytest.param(case, seed, id=f"{case.name}-{seed}",
                       marks=[pytest.mark.slow] if seed else [])
          for case in CASES for seed in SEEDS]


@pytest.mark.parametrize(("case", "seed"), PARAMS)
def test_case(case: Case, seed: int, trained) -> None:  # noqa: ANN001
    outcome = trained(case.fn, seed)
    assert label_problems(case, outcome.probe) == [], outcome.probe.summary()
    result = ds.diagnose(outcome.path)
    assert not [w for w in result.skipped.values() if w.startswith("rule failed")], result.skipped
    assert set(result.codes("warning")) == set(case.expected), result.to_text()
    for f in result.findings:
        if f.code in case.expected:
            assert f.message and f.suggestion and f.evidence, f


def test_three_buggy_cases_per_new_code_and_fifteen_healthy() -> None:
    per_code = {code: sum(code in c.expected for c in BUGGY) for code in NEW_CODES}
    assert all(n >= 3 for n in per_code.values()), per_code
    assert len(HEALTHY) >= 15
    assert len({c.name for c in CASES}) == len(CASES)
