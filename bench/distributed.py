"""Cost of merging a sampled step across ranks: 2 gloo processes on this machine.

    python bench/distributed.py [--layers 48] [--steps 40]

Each rank trains the same deep MLP on its half of the batch with ``every=1`` (every step is
sampled) and reports the time spent in the cross-rank reduction (packing plus three collectives)
per sampled step, next to the training step itself with and without ``watch``.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

import deepscope as ds


def model_of(layers: int) -> nn.Module:
    torch.manual_seed(0)
    mods: list[nn.Module] = []
    for _ in range(layers):
        mods += [nn.Linear(128, 128), nn.ReLU()]
    return nn.Sequential(*mods, nn.Linear(128, 10))


def train(rank: int, world: int, port: int, layers: int, steps: int, root: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    results = {}
    for watch in (False, True, False, True):
        model = nn.parallel.DistributedDataParallel(model_of(layers))
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        run = ds.init(name="dist-bench", dir=root) if watch else None
        if run is not None:
            run.watch(model, optimizer=opt, every=1, diagnose=False)
        x, y = torch.randn(32, 128), torch.randint(0, 10, (32,))
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        elapsed = (time.perf_counter() - t0) / steps
        if run is not None:
            reducer = run._watcher._reducer
            results.setdefault("reduce", []).append(reducer.seconds / max(reducer.calls, 1))
            run.finish()
        results.setdefault(watch, []).append(elapsed)
    if rank == 0:
        plain, watched = min(results[False]), min(results[True])
        reduce = min(results["reduce"])
        n = 2 * layers + 2
        print(f"{world} ranks, {n} layers: step {plain * 1e3:.2f} ms plain, "
              f"{watched * 1e3:.2f} ms with watch every step; cross-rank merge "
              f"{reduce * 1e3:.2f} ms per sampled step ({reduce / plain:.2f}x a plain step)")
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=48)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as root:
        mp.spawn(train, args=(2, port, args.layers, args.steps, root), nprocs=2, join=True)


if __name__ == "__main__":
    main()
