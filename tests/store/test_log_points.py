"""``run.log``'s fast path (points appended to a list per known name) loses and mixes nothing.

The writer takes a name's points (a slice, then a deletion of that prefix) while threads append
to the list; these tests log through that path from four threads at once, across a few hundred
takes, and check every stored point against the one logged: none lost, none twice, no value
paired with another call's step.
"""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import numpy as np

import deepscope as ds
from deepscope.run import Run


def test_points_of_known_names_from_four_threads_keep_their_pairs(runs_dir: Path) -> None:
    run = Run(name="threads", dir=runs_dir, flush_interval=0.01)  # many takes mid-append
    run.log({"shared": 0.0, "t0": 0.0, "t1": 0.0, "t2": 0.0, "t3": 0.0}, step=0)
    n = 20_000

    def work(k: int) -> None:
        for i in range(1, n + 1):
            step = k * n + i
            run.log({"shared": step + 0.5, f"t{k}": step * 2.0}, step=step)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch between almost any two bytecodes
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(interval)
    run.finish()
    with ds.open_run(run.path) as r:
        shared = r.scalars("shared")
        assert len(shared.steps) == 4 * n + 1
        np.testing.assert_array_equal(np.sort(shared.steps), np.arange(4 * n + 1))
        pairs = dict(zip(shared.steps.tolist(), shared.values.tolist(), strict=True))
        assert all(pairs[s] == s + 0.5 for s in range(1, 4 * n + 1))
        for k in range(4):
            own = r.scalars(f"t{k}")
            assert len(own.steps) == n + 1
            np.testing.assert_array_equal(own.values[1:], own.steps[1:] * 2.0)


def test_a_known_name_keeps_nan_inf_huge_steps_and_detects_a_nan_loss(runs_dir: Path) -> None:
    run = ds.init(name="mixed", dir=runs_dir)
    logged = [(0, 1.0), (1, math.nan), (2, math.inf), (3, -0.0), (2**53, 5.0),
              (2**53 + 1, 6.0), (2**63 - 1, 7.0), (2**63 - 2, 8.0)]
    for step, value in logged:
        run.log({"train/loss": value}, step=step)
    run.finish()
    with ds.open_run(run.path) as r:
        got = r.scalars("train/loss")
        pairs = sorted(zip(got.steps.tolist(), got.values.tolist(), strict=True))
        want = sorted(logged)
        assert [s for s, _ in pairs] == [s for s, _ in want]
        for (_, a), (_, b) in zip(pairs, want, strict=True):
            assert a == b or (math.isnan(a) and math.isnan(b))
        (event,) = r.events("nonfinite")
        assert event.step == 1 and event.data["tag"] == "train/loss"
