"""Cost of diagnosing a long run: 10,000 steps, 50 layers sampled every 10, scalars every step.

Builds the run with the store's writer (synthetic but realistic statistics: decaying loss, layer
norms drifting slowly, ReLU activations) and times ``ds.diagnose`` end to end (open, every rule,
close), plus one live check on the same run. Target: under 1 s.

    .venv/bin/python bench/diagnose.py [--steps 10000] [--layers 50] [--every 10]
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


def scenarios() -> None:
    """Recall, precision and healthy-runs-clean over tests/scenarios (real trainings)."""
    import sys

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from scenarios.registry import SCENARIOS

    hit = buggy = clean = healthy = tp = fp = 0
    with tempfile.TemporaryDirectory() as tmp:
        for sc in SCENARIOS:
            t = time.perf_counter()
            path = sc.fn(Path(tmp) / sc.name)
            took = time.perf_counter() - t
            found = set(ds.diagnose(path).codes("warning"))
            if sc.expected:
                buggy += 1
                hit += sc.expected <= found
            else:
                healthy += 1
                clean += not found
            tp += len(found & sc.expected)
            fp += len(found - sc.expected)
            mark = "ok " if found == sc.expected else "BAD"
            print(f"{mark} {sc.name:36s} {took:5.1f} s  expected={sorted(sc.expected)} "
                  f"found={sorted(found)}", flush=True)
    print(f"recall {hit}/{buggy} = {hit / max(buggy, 1):.0%}; precision {tp}/{tp + fp} = "
          f"{tp / max(tp + fp, 1):.0%}; healthy clean {clean}/{healthy}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", action="store_true",
                    help="run tests/scenarios and print recall / precision instead")
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--layers", type=int, default=50)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if args.scenarios:
        scenarios()
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


if __name__ == "__main__":
    main()
