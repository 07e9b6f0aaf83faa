"""Transformer scenarios on three seeds: every label is proven by raw measurements taken without
deepscope, then diagnosis must find exactly the labelled codes, naming the heads that the raw
measurements single out.
"""

from __future__ import annotations

import pytest
import torch

import deepscope as ds
from deepscope.diagnose.rules import RULES_BY_CODE
from scenarios.transformer_suite import (
    CASES,
    CODES,
    HEALTHY,
    SEEDS,
    UNSTABLE,
    Case,
    head_problems,
    in_the_gap,
    label_problems,
)

torch.set_num_threads(1)

# The unstable recipes are proven on seed 0; on seeds 1 and 2 some of them do not reach their
# labels' raw thresholds (or reach a second one), so only the healthy cases run on every seed.
PARAMS = [pytest.param(case, seed, id=f"{case.name}-{seed}",
                       marks=[pytest.mark.slow] if seed else [])
          for case in CASES for seed in (SEEDS if case in HEALTHY else SEEDS[:1])]


@pytest.mark.parametrize(("case", "seed"), PARAMS)
def test_transformer_case(case: Case, seed: int, trained) -> None:  # noqa: ANN001
    outcome = trained(case.fn, seed)
    gap = in_the_gap(case, outcome.probe)  # labels this training neither proves nor refutes
    problems = [p for p in label_problems(case, outcome.probe) if p.split(":")[0] not in gap]
    assert problems == [], outcome.probe.summary()
    result = ds.diagnose(outcome.path)
    assert not [w for w in result.skipped.values() if w.startswith("rule failed")], result.skipped
    assert set(result.codes("warning")) - gap == set(case.expected) - gap, result.to_text()
    modules = [m.name for m in ds.open_run(outcome.path).transformer_info().attention]
    for f in result.findings:
        if f.code not in case.expected:
            continue
        assert f.message and f.suggestion and f.evidence, f
        if f.code in ("attention_logit_growth", "attention_entropy_collapse"):
            assert head_problems(f.code, f.evidence, outcome.probe, modules) == []


def test_two_unstable_cases_per_code_and_three_healthy() -> None:
    per_code = {code: sum(code in c.expected for c in UNSTABLE) for code in CODES}
    assert all(n >= 2 for n in per_code.values()), per_code
    assert set(CODES) <= set(RULES_BY_CODE)
    assert len(HEALTHY) >= 3
    assert len({c.name for c in CASES}) == len(CASES)
