"""Scalar store speed: deepscope versus TensorBoard event files, same data, same run.

Writes 1,000,000 scalar points one call per point (as a training loop does), reads them all
back, and runs a 2,000-point downsampled query. Prints times and ratios, and what one
``run.log`` call costs in the training thread (the loop's mean, its own arithmetic taken off).

    python bench/store.py [--points N]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")


def bench_deepscope(root: str, n: int) -> dict[str, float]:
    import deepscope as ds
    import deepscope.run  # noqa: F401 - imports torch, as a training script has before it logs

    t0 = time.perf_counter()
    run = ds.init(name="store-bench", dir=root)
    t_loop = time.perf_counter()
    for i in range(n):
        run.log({"train/loss": math.sin(i / 1000) + i * 1e-6}, step=i)
    loop = time.perf_counter() - t_loop
    run.finish()
    write = time.perf_counter() - t0
    cold = ds.open_run(run.path)  # a fresh reader: nothing decoded yet
    t0 = time.perf_counter()
    cold.scalars("train/loss", max_points=2000)
    cold_query = time.perf_counter() - t0
    reader = ds.open_run(run.path)
    t0 = time.perf_counter()
    full = reader.scalars("train/loss")
    read = time.perf_counter() - t0
    assert len(full.steps) == n
    reps = []
    for _ in range(5):
        t0 = time.perf_counter()
        small = reader.scalars("train/loss", max_points=2000)
        reps.append(time.perf_counter() - t0)
    assert len(small.steps) <= 2000
    return {"write": write, "read": read, "downsample": sorted(reps)[2], "cold": cold_query,
            "call": loop / n}


def bench_loop(n: int) -> float:
    """Seconds per iteration of the benchmark's loop with no logging: the value's arithmetic."""
    t0 = time.perf_counter()
    for i in range(n):
        {"train/loss": math.sin(i / 1000) + i * 1e-6}
    return (time.perf_counter() - t0) / n


def bench_tensorboard(root: str, n: int) -> dict[str, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    t0 = time.perf_counter()
    w = SummaryWriter(root)
    for i in range(n):
        w.add_scalar("train/loss", math.sin(i / 1000) + i * 1e-6, i)
    w.close()
    write = time.perf_counter() - t0
    t0 = time.perf_counter()
    acc = EventAccumulator(root, size_guidance={"scalars": 0})
    acc.Reload()
    events = acc.Scalars("train/loss")
    read = time.perf_counter() - t0
    assert len(events) == n
    return {"write": write, "read": read}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    n = ap.parse_args().points
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        ours = bench_deepscope(d1, n)
        tb = bench_tensorboard(d2, n)
        bare = bench_loop(n)
    print(f"{n:,} scalar points")
    print(f"{'':22s} {'deepscope':>10s} {'tensorboard':>12s} {'ratio':>8s}")
    print(
        f"{'write (s)':22s} {ours['write']:10.2f} {tb['write']:12.2f} "
        f"{tb['write'] / ours['write']:7.1f}x"
    )
    print(
        f"{'full read (s)':22s} {ours['read']:10.3f} {tb['read']:12.2f} "
        f"{tb['read'] / ours['read']:7.1f}x"
    )
    print(f"{'run.log call (us)':22s} {(ours['call'] - bare) * 1e6:10.2f} {'':>12s}  "
          f"(training thread, mean over the loop, its arithmetic ({bare * 1e6:.2f} us) taken off)")
    print(f"{'2,000-pt query (ms)':22s} {ours['downsample'] * 1e3:10.1f} {'n/a':>12s}  (repeat)")
    print(f"{'2,000-pt query (ms)':22s} {ours['cold'] * 1e3:10.1f} {'n/a':>12s}  (cold reader)")


if __name__ == "__main__":
    main()
