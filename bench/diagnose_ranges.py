"""The measured ranges behind the diagnosis thresholds, on every scenario of tests/scenarios.

Trains each scenario (the original suite once, the suite of real-looking trainings on three
seeds) and prints, per run, the quantity each threshold is compared with, then the healthy and
the buggy range of each quantity. The rule docstrings quote these ranges.

    .venv/bin/python bench/diagnose_ranges.py [--suite all|original|wild] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

import deepscope as ds
from deepscope.diagnose import trends
from deepscope.diagnose.base import ScalarTrendRule
from deepscope.diagnose.metric_names import VAL_LOSS_TAGS
from deepscope.diagnose.rules.double_softmax import DoubleSoftmax, loss_floor
from deepscope.diagnose.rules.exploding_gradients import initial_scales
from deepscope.diagnose.rules.loss_oscillation import LossOscillation
from deepscope.diagnose.rules.update_underflow import UpdateUnderflow
from deepscope.diagnose.rules.vanishing_gradients import VanishingGradients, chains
from deepscope.diagnose.view import RunView

Measure = Callable[[RunView], float | None]


def vanishing_ratio(view: RunView) -> float | None:
    """Lowest median first/last relative-gradient ratio over the role chains."""
    rule = VanishingGradients()
    names, _, g = rule._relative_grads(view)
    out = []
    for chain in chains(names, rule.params.min_layers):
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(trends.level(g[chain[0]] / g[chain[-1]]))
    return min(out) if out else None


def loss_to_output(view: RunView) -> float | None:
    """Initial loss / max(1, initial output rms) (exploding_gradients' large-target test)."""
    scales = initial_scales(view)
    return None if scales is None else scales[0] / max(1.0, scales[1])


def giveback_noise(view: RunView) -> float | None:
    """Largest rise of the smoothed training loss in noise units (loss_oscillation)."""
    found = LossOscillation().train_loss(view)
    if found is None:
        return None
    values = found[2]
    smooth = trends.rolling_median(values, max(3, len(values) // 20))
    noise = trends.noise(values, smooth)
    rise = trends.largest_giveback(smooth)[0]
    return rise / noise if noise > 0 else None


def val_best_to_chance(view: RunView) -> float | None:
    """Best validation loss / initial training loss (no_generalization's chance band)."""
    rule = LossOscillation()
    found, val = rule.train_loss(view), ScalarTrendRule.series(rule, view, VAL_LOSS_TAGS)
    if found is None or val is None or len(val[2]) < 3:
        return None
    return float(np.nanmin(val[2])) / max(float(found[2][0]), found[3])


def val_acc_above_chance(view: RunView) -> float | None:
    """Best validation accuracy minus chance accuracy exp(-L0) (no_generalization)."""
    import math

    from deepscope.diagnose.metric_names import VAL_ACC_TAGS

    rule = LossOscillation()
    found, acc = rule.train_loss(view), ScalarTrendRule.series(rule, view, VAL_ACC_TAGS)
    if found is None or acc is None or len(acc[2]) < 3:
        return None
    chance = max(float(found[2][0]), found[3])
    return float(np.nanmax(acc[2])) - math.exp(-chance) if chance >= math.log(2) else None


def underflow_share(view: RunView) -> float | None:
    """Median element-weighted share of unchanged elements with a gradient."""
    if not (view.has("update") and view.has("grad")):
        return None
    found = UpdateUnderflow(UpdateUnderflow.Params(share=0.0))._unchanged(view)
    if found is None:
        return None
    _, _, counts, stuck = found
    total = np.nansum(counts * np.nan_to_num(stuck), axis=0) / np.maximum(counts.sum(0), 1)
    return trends.level(total)


def softmax_floor(view: RunView) -> float | None:
    """Lowest training loss / cross-entropy floor, on runs with probability outputs."""
    events = DoubleSoftmax().events(view)
    if not events:
        return None
    from deepscope.diagnose.rules.double_softmax import _lowest_loss

    _, lowest = _lowest_loss(view)
    return None if lowest is None else lowest / loss_floor(int(events[0].data["width"]))


def event_steps(kind: str) -> Measure:
    return lambda view: float(len({e.step for e in view.events(kind)}))


MEASURES: dict[str, Measure] = {
    "vanishing first/last": vanishing_ratio,
    "loss / output (x)": loss_to_output,
    "giveback / noise": giveback_noise,
    "val best / chance": val_best_to_chance,
    "val acc - chance acc": val_acc_above_chance,
    "underflow share": underflow_share,
    "softmax loss / floor": softmax_floor,
    "carried-grad steps": event_steps("grads_not_zeroed"),
    "eval-mode steps": event_steps("eval_mode"),
    "probability steps": event_steps("probability_outputs"),
}


def _runs(suite: str, seeds: list[int]) -> list[tuple[str, Callable, frozenset[str], int | None]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from scenarios.registry import SCENARIOS
    from scenarios.suite import CASES

    out = []
    if suite in ("all", "original"):
        out += [(sc.name, sc.fn, sc.expected, None) for sc in SCENARIOS]
    if suite in ("all", "wild"):
        out += [(c.name, c.fn, c.expected, s) for c in CASES for s in seeds]
    return out


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default="all", choices=("all", "original", "wild"))
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    table: list[tuple[str, frozenset[str], dict[str, float | None]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, fn, expected, seed) in enumerate(
                _runs(args.suite, [int(s) for s in args.seeds.split(",")])):
            out = fn(Path(tmp) / str(i)) if seed is None else fn(Path(tmp) / str(i), seed)
            with ds.open_run(getattr(out, "path", out)) as reader:
                view = RunView(reader)
                values = {k: m(view) for k, m in MEASURES.items()}
            label = name if seed is None else f"{name} seed {seed}"
            table.append((label, expected, values))
            shown = "  ".join(f"{k}={v:.3g}" for k, v in values.items() if v)
            print(f"{label:44s} {sorted(expected)}  {shown}", flush=True)
    print(f"\n{'quantity':24s} {'healthy (min..max)':>26s}   buggy runs, by label")
    for key in MEASURES:
        healthy = [v[key] for _, e, v in table if not e and v[key] is not None]
        rng = f"{min(healthy):.3g}..{max(healthy):.3g} ({len(healthy)})" if healthy else "-"
        buggy: dict[str, list[float]] = {}
        for _, e, v in table:
            if e and v[key] is not None:
                for code in e:
                    buggy.setdefault(code, []).append(v[key])
        text = "; ".join(f"{c}: {min(b):.3g}..{max(b):.3g}" for c, b in sorted(buggy.items()))
        print(f"{key:24s} {rng:>26s}   {text}")


if __name__ == "__main__":
    main()
