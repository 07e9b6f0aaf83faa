"""TensorBoard import speed: ``deepscope import-tensorboard`` versus TensorBoard's own loader.

The same log directory (scalars written with numpy-encoded records, histograms with
``SummaryWriter``) is read by ``EventAccumulator`` (every point kept: ``size_guidance`` 0,
then every scalar and histogram fetched) and imported by deepscope (read *and* written to a
run). Rounds alternate; means of the total times and their ratio are printed.

    python bench/tb_import.py [--points N] [--histograms N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).parent))


def make_logdir(root: Path, points: int, histograms: int) -> Path:
    from tb_events import write_scalars
    from torch.utils.tensorboard import SummaryWriter

    logdir = root / "logs" / "exp"
    tags = ["train/loss", "train/accy", "val/losses", "lr/group_0"]
    idx = np.arange(points) % len(tags)
    steps = np.arange(points) // len(tags)
    write_scalars(logdir, tags, idx, steps, np.sin(np.arange(points) / 500.0),
                  1.7e9 + np.arange(points) * 0.01)
    w = SummaryWriter(logdir)
    rng = np.random.default_rng(0)
    layers = 20
    for k in range(histograms):
        w.add_histogram(f"layer{k % layers}.weight", rng.normal(0, 1, 1000), k // layers)
    w.close()
    return root / "logs"


def tensorboard_load(logdir: Path) -> int:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir / "exp"), size_guidance={"scalars": 0, "histograms": 0,
                                                                "tensors": 0})
    acc.Reload()
    n = sum(len(acc.Scalars(t)) for t in acc.Tags()["scalars"])
    return n + sum(len(acc.Histograms(t)) for t in acc.Tags()["histograms"])


def deepscope_import(logdir: Path, out: Path) -> int:
    import deepscope as ds
    from deepscope.integrations.tensorboard_import import import_tensorboard

    (path,) = import_tensorboard(logdir, out)
    r = ds.open_run(path)
    n = sum(r.scalars(t).total_points for t in r.scalar_tags())
    return n + sum(len(r.histograms(lay.name, "weight").steps) for lay in r.layers())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=400_000)
    ap.add_argument("--histograms", type=int, default=2_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    times: dict[str, list[float]] = {"tensorboard": [], "deepscope": []}
    with tempfile.TemporaryDirectory() as tmp:
        logdir = make_logdir(Path(tmp), args.points, args.histograms)
        for r in range(args.rounds):
            order = ("tensorboard", "deepscope") if r % 2 == 0 else ("deepscope", "tensorboard")
            for who in order:
                t0 = time.perf_counter()
                n = (tensorboard_load(logdir) if who == "tensorboard"
                     else deepscope_import(logdir, Path(tmp) / f"runs{r}"))
                times[who].append(time.perf_counter() - t0)
                assert n == args.points + args.histograms, (who, n)
    tb, ours = statistics.mean(times["tensorboard"]), statistics.mean(times["deepscope"])
    print(f"{args.points:,} scalar points + {args.histograms:,} histograms, "
          f"{args.rounds} rounds (mean)")
    print(f"EventAccumulator load             {tb:8.2f} s")
    print(f"deepscope import (read + write)   {ours:8.2f} s")
    print(f"ratio tensorboard / deepscope     {tb / ours:8.2f}x")


if __name__ == "__main__":
    main()
