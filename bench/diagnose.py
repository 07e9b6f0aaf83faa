"""Cost of diagnosing a long run: 10,000 steps, 50 layers sampled every 10, scalars every step.

Builds the run with the store's writer (synthetic but realistic statistics: decaying loss, layer
norms drifting slowly, ReLU activations) and times ``ds.diagnose`` end to end (open, every rule,
close), plus one live check on the same run. Target: under 1 s.

    .venv/bin/python bench/diagnose.py [--steps 10000] [--layers 50] [--every 10]

``--scenarios [all|original|wild]`` trains the scenarios of ``tests/scenarios`` instead and
prints, per finding code, recall (labelled runs where it was found), precision (runs where it was
found that are labelled so) and healthy-clean (healthy runs where it was not found): the original
suite on one seed, the suite of real-looking trainings (``tests/scenarios/suite.py``) on three.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import deepscope as ds
from deepscope.diagnose.live import LiveMonitor
from deepscope.store import open_reader
from deepscope.store.records import LayerInfo
from deepscope.store.schema import STAT_FIELDS
from deepscope.store.writer import RunWriter

F = {f: i for i, f in enumerate(STAT_FIELDS)}


def _vec(**fields: float) -> np.ndarray:
    v = np.full(len(STAT_FIELDS), np.nan)
    for k, x in fields.items():
        v[F[k]] = x
    return v


def build(path: Path, steps: int, n_layers: int, every: int) -> None:
    rng = np.random.default_rng(0)
    w = RunWriter(path, meta={"name": "bench", "config": {"lr": 1e-3}})
    infos = []
    for i in range(n_layers):
        relu = i % 2 == 1
        n = 0 if relu else 4096
        params = () if relu else ({"name": "weight", "shape": [64, 64], "numel": 4096,
                                   "requires_grad": True, "in_optimizer": True},)
        infos.append(LayerInfo(f"blocks.{i // 2}.{'act' if relu else 'fc'}",
                               "ReLU" if relu else "Linear", "relu" if relu else "other",
                               i, n, n, params))
    infos.append(LayerInfo("<root>", "Net", "other", n_layers, 0, 0, ()))
    w.set_layers(infos)
    for step in range(0, steps, every):
        rows = [("<root>", "input", _vec(count=4096, mean=0.0, std=1.0, min=-3, max=3, norm=64.0)),
                ("<root>", "activation", _vec(count=640, mean=0.1, std=1.0, min=-4, max=4,
                                              norm=25.0, nonfinite=0))]
        for info in infos[:-1]:
            if info.family == "relu":
                rows.append((info.name, "activation", _vec(
                    count=4096, mean=0.4, std=0.6, min=0.0, max=3.0, norm=40.0, zero_frac=0.5,
                    nonfinite=0, dead_frac=0.05 + 0.02 * rng.random())))
                continue
            wn = 20.0 + step * 1e-4
            rows.append((info.name, "weight", _vec(count=4096, mean=0.0, std=0.3, min=-1,
                                                   max=1, norm=wn, nonfinite=0)))
            gn = 0.5 * (1 + 0.3 * rng.random())
            rows.append((info.name, "grad", _vec(count=4096, mean=0.0, std=0.01, min=-0.1,
                                                 max=0.1, norm=gn, nonfinite=0)))
            rows.append((info.name, "update", _vec(count=4096, norm=wn * 1e-3, nonfinite=0,
                                                   update_ratio=1e-3)))
            rows.append((info.name, "activation", _vec(count=4096, mean=0.0, std=1.0, min=-3,
                                                       max=3, norm=64.0, nonfinite=0,
                                                       dead_frac=0.05)))
        w.log_stats(step, rows)
    s = np.arange(steps)
    loss = 2.3 * np.exp(-s / 2000) + 0.05 + 0.05 * rng.random(steps)
    w.log_scalar_arrays("train/loss", s, loss, s.astype(float))
    vs = s[::100]
    w.log_scalar_arrays("val/loss", vs, 2.3 * np.exp(-vs / 2000) + 0.1, vs.astype(float))
    w.close()


def _per_code(results: list[tuple[frozenset[str], set[str]]], codes: list[str]) -> None:
    """Recall, precision and healthy-clean per code from ``(expected, found)`` pairs."""
    print(f"{'code':24s} {'recall':>12s} {'precision':>12s} {'healthy clean':>14s}")
    for code in codes:
        labelled = [found for exp, found in results if code in exp]
        flagged = [exp for exp, found in results if code in found]
        healthy = [found for exp, found in results if not exp]
        hit = sum(code in f for f in labelled)
        right = sum(code in e for e in flagged)
        clean = sum(code not in f for f in healthy)
        rec = f"{hit}/{len(labelled)}" if labelled else "-"
        pre = f"{right}/{len(flagged)}" if flagged else "-"
        print(f"{code:24s} {rec:>12s} {pre:>12s} {f'{clean}/{len(healthy)}':>14s}")
    buggy = [(e, f) for e, f in results if e]
    healthy = [f for e, f in results if not e]
    hit = sum(e <= f for e, f in buggy)
    tp = sum(len(e & f) for e, f in results)
    fp = sum(len(f - e) for e, f in results)
    print(f"all codes: recall {hit}/{len(buggy)} = {hit / max(len(buggy), 1):.0%}; precision "
          f"{tp}/{tp + fp} = {tp / max(tp + fp, 1):.0%}; healthy clean "
          f"{sum(not f for f in healthy)}/{len(healthy)}")


def _run(fn, root: Path, seed: int | None):  # noqa: ANN001, ANN202
    t = time.perf_counter()
    out = fn(root) if seed is None else fn(root, seed)
    path = getattr(out, "path", out)
    return set(ds.diagnose(path).codes("warning")), time.perf_counter() - t


def scenarios(which: str) -> None:
    """Recall, precision and healthy-runs-clean per code over tests/scenarios (real trainings):
    the original suite (one seed) and the suite of real-looking trainings (three seeds).
    """
    import sys

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from deepscope.diagnose.rules import RULES_BY_CODE
    from scenarios.registry import SCENARIOS
    from scenarios.suite import CASES, NEW_CODES, SEEDS

    suites = {
        "original": [(sc.name, sc.fn, sc.expected, None) for sc in SCENARIOS],
        "wild": [(c.name, c.fn, c.expected, s) for c in CASES for s in SEEDS],
    }
    for name, runs in suites.items():
        if which not in ("all", name):
            continue
        results = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, (label, fn, expected, seed) in enumerate(runs):
                found, took = _run(fn, Path(tmp) / str(i), seed)
                results.append((expected, found))
                mark = "ok " if found == expected else "BAD"
                seed_text = "" if seed is None else f" seed {seed}"
                print(f"{mark} {label + seed_text:44s} {took:5.1f} s  expected={sorted(expected)} "
                      f"found={sorted(found)}", flush=True)
        print(f"\n{name} suite ({len(runs)} runs)")
        codes = list(NEW_CODES) if name == "wild" else list(RULES_BY_CODE)
        codes += sorted({c for _, found in results for c in found} - set(codes))
        _per_code(results, codes)
        print()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", nargs="?", const="all", choices=("all", "original", "wild"),
                    help="run tests/scenarios and print recall / precision per code instead")
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--layers", type=int, default=50)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if args.scenarios:
        scenarios(args.scenarios)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench"
        t = time.perf_counter()
        build(path, args.steps, args.layers, args.every)
        print(f"built run: {args.steps} steps, {args.layers} layers, every {args.every} "
              f"({time.perf_counter() - t:.1f} s)")
        times, cpu = [], []
        for _ in range(args.repeat):
            t, c = time.perf_counter(), time.process_time()
            result = ds.diagnose(path)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        # CPU time too: on a shared machine the wall time includes waiting for a core.
        print(f"ds.diagnose: median {np.median(times) * 1000:.0f} ms wall, "
              f"{np.median(cpu) * 1000:.0f} ms CPU over {args.repeat} "
              f"(findings: {result.codes('info')})")
        with open_reader(path) as reader:
            mon = LiveMonitor()
            t = time.perf_counter()
            mon.check(reader, args.steps)
            print(f"one live check on the whole run: {(time.perf_counter() - t) * 1000:.0f} ms")
            t = time.perf_counter()
            mon.check(reader, args.steps)
            ms = (time.perf_counter() - t) * 1000
            print(f"a live check between schedule points: {ms:.1f} ms")
            _rule_times(reader)
            _event_cost(reader, args.steps, args.every)


def _rule_times(reader) -> None:  # noqa: ANN001
    """Time of each rule on the whole run (one shared view, as in ds.diagnose)."""
    from deepscope.diagnose.engine import build_rules
    from deepscope.diagnose.view import RunView

    view = RunView(reader)
    parts = []
    for rule in build_rules():
        t = time.perf_counter()
        if rule.missing(view) is None:
            list(rule.check(view))
        parts.append(f"{rule.code} {(time.perf_counter() - t) * 1000:.1f}")
    print("per rule (ms, first reads included): " + ", ".join(parts))


def _event_cost(reader, steps: int, every: int) -> None:  # noqa: ANN001
    """Host cost of the live event rules: one event of each kind per sampled step."""
    mon = LiveMonitor()
    mon.check(reader, 0)
    kinds = {
        "grads_not_zeroed": {"layers": ["blocks.0.fc"], "layers_with_grad": 1,
                             "layers_checked": 25, "carried_norm": 1.0, "grad_norm": 2.0},
        "eval_mode": {"root_eval": True, "modules": ["<root>"], "dropout_eval": 0,
                      "dropout_total": 0, "norm_eval": 0, "norm_total": 0},
        "probability_outputs": {"width": 10, "max_row_dev": 1e-7, "min": 0.01},
    }
    sampled = range(0, steps, every)
    t = time.perf_counter()
    for step in sampled:
        for kind, data in kinds.items():
            mon.on_event({"kind": kind, "step": step, "layer": "<root>", "data": data})
    per = (time.perf_counter() - t) / (len(sampled) * len(kinds)) * 1e6
    t = time.perf_counter()
    found = mon._judge_pending(reader, steps)  # what check() adds before its schedule gate
    print(f"live event rules: {per:.0f} us per event (host only, no device work), "
          f"{(time.perf_counter() - t) * 1000:.1f} ms for the eval-mode verdict at a check "
          f"({[f.code for f in found]})")


if __name__ == "__main__":
    main()
