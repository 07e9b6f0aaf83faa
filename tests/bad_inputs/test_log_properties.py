"""Property-based: whatever ``run.log`` is given, it stores exactly that or refuses in one line.

Values and steps come from hypothesis (derandomized, bounded): every value is read back as
the same float64 (NaN as NaN), every step as the same integer, or the call raised
``InvalidArgumentError``; nothing else escapes and nothing is stored wrongly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepscope as ds
from deepscope.errors import InvalidArgumentError

SETTINGS = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    st.complex_numbers(max_magnitude=10),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.builds(lambda xs: torch.tensor(xs, dtype=torch.float64),
              st.lists(st.floats(allow_nan=False, width=32), max_size=3)),
    st.builds(lambda x: np.float32(x), st.floats(width=32)),
)

STEPS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=2**53 - 3, max_value=2**63 + 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.booleans(),
    st.builds(np.int64, st.integers(min_value=0, max_value=2**63 - 1)),
)


def _expected_value(value: object) -> float | None:
    """What deepscope must store for ``value``, or None when it must refuse it."""
    try:
        if isinstance(value, torch.Tensor):
            return float(value.item()) if value.numel() == 1 else None
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None


def test_values_are_stored_exactly_or_refused(runs_dir: Path) -> None:
    run = ds.init(name="values", dir=runs_dir)
    stored: dict[str, float] = {}

    @SETTINGS
    @given(value=VALUES)
    def log_one(value: object) -> None:
        tag = f"v{len(stored)}"
        want = _expected_value(value)
        try:
            run.log({tag: value}, step=0)
        except InvalidArgumentError as err:
            assert want is None, (value, err)
            assert "\n" not in str(err)
            return
        assert want is not None, value
        stored[tag] = want

    log_one()
    run.finish()
    with ds.open_run(run.path) as r:
        for tag, want in stored.items():
            (got,) = r.scalars(tag).values.tolist()
            assert got == want or (math.isnan(got) and math.isnan(want)), (tag, got, want)
    assert len(stored) > 50


def test_steps_are_stored_exactly_or_refused(runs_dir: Path) -> None:
    run = ds.init(name="steps", dir=runs_dir)
    stored: dict[str, int] = {}

    @SETTINGS
    @given(step=STEPS)
    def log_one(step: object) -> None:
        tag = f"s{len(stored)}"
        integral = isinstance(step, (int, np.integer)) and not isinstance(step, bool)
        if isinstance(step, float) and math.isfinite(step) and step.is_integer():
            integral = True
        ok = integral and 0 <= int(step) <= 2**63 - 1  # type: ignore[call-overload]
        try:
            run.log({tag: 1.0}, step=step)  # type: ignore[arg-type]
        except InvalidArgumentError as err:
            assert not ok, (step, err)
            return
        assert ok, step
        stored[tag] = int(step)  # type: ignore[call-overload]

    log_one()
    run.finish()
    with ds.open_run(run.path) as r:
        for tag, want in stored.items():
            assert r.scalars(tag).steps.tolist() == [want], tag
        assert r.meta().last_step == max(stored.values())
    assert any(s > 2**53 for s in stored.values())
