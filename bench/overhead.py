"""Training-step overhead of deepscope versus TensorBoard histograms and a hand-written hook.

Runs every variant in the same process on the same data and prints the median step time and its
ratio to the uninstrumented step. CPU, 2 threads.

    python bench/overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import deepscope as ds
from deepscope.demo import DigitsCNN

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def digits(images: bool) -> tuple[torch.Tensor, torch.Tensor]:
    d = load_digits()
    x = (d.data - d.data.mean()) / d.data.std()
    x = torch.tensor(x, dtype=torch.float32)
    return (x.reshape(-1, 1, 8, 8) if images else x), torch.tensor(d.target)


def mlp_digits() -> tuple[nn.Module, Callable[[int], tuple[torch.Tensor, torch.Tensor]]]:
    x, y = digits(False)
    model = nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
    )
    return model, lambda i: (
        x[(i * 64) % 1700 : (i * 64) % 1700 + 64],
        y[(i * 64) % 1700 : (i * 64) % 1700 + 64],
    )


def cnn_digits() -> tuple[nn.Module, Callable[[int], tuple[torch.Tensor, torch.Tensor]]]:
    x, y = digits(True)
    return DigitsCNN(), lambda i: (
        x[(i * 64) % 1700 : (i * 64) % 1700 + 64],
        y[(i * 64) % 1700 : (i * 64) % 1700 + 64],
    )


def wide_mlp() -> tuple[nn.Module, Callable[[int], tuple[torch.Tensor, torch.Tensor]]]:
    layers: list[nn.Module] = []
    d = 1024
    for _ in range(5):
        layers += [nn.Linear(d, 1024), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(1024, 10))
    g = torch.Generator().manual_seed(0)
    xs = torch.randn(4, 256, 1024, generator=g)
    ys = torch.randint(0, 10, (4, 256), generator=g)
    return model, lambda i: (xs[i % 4], ys[i % 4])


def run_variant(factory, variant: str, steps: int, warmup: int, root: str) -> float:
    torch.manual_seed(0)
    model, batch = factory()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    run = tb = None
    handles = []
    if variant == "deepscope default":
        run = ds.init(name="bench", dir=root)
        run.watch(model, optimizer=opt)
    elif variant == "deepscope every=1 + hist":
        run = ds.init(name="bench", dir=root)
        run.watch(model, optimizer=opt, every=1, histograms=True)
    elif variant == "tensorboard hist w+g":
        from torch.utils.tensorboard import SummaryWriter

        tb = SummaryWriter(tempfile.mkdtemp(dir=root))
    elif variant == "hand hook mean/std":
        sink: list[torch.Tensor] = []

        def hook(_m, _i, out):  # the minimal hook people write by hand
            if isinstance(out, torch.Tensor):
                sink.append(torch.stack([out.detach().mean(), out.detach().std()]).cpu())

        handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    times = []
    for i in range(warmup + steps):
        x, y = batch(i)
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        if run is not None:
            run.log({"train/loss": loss.item()}, step=i)
        else:
            loss.item()
        if tb is not None:
            for name, p in model.named_parameters():
                tb.add_histogram(f"w/{name}", p, i)
                tb.add_histogram(f"g/{name}", p.grad, i)
        times.append(time.perf_counter() - t0)
    if run is not None:
        run.finish()
    if tb is not None:
        tb.close()
    for h in handles:
        h.remove()
    return statistics.median(times[warmup:]), statistics.fmean(times[warmup:])


VARIANTS = [
    "plain",
    "deepscope default",
    "deepscope every=1 + hist",
    "tensorboard hist w+g",
    "hand hook mean/std",
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps (noisier)")
    ap.add_argument("--only", default="", help="run only cases whose title contains this")
    args = ap.parse_args()
    cases = [
        ("MLP on digits (b=64)", mlp_digits, 400),
        ("small CNN on digits (b=64)", cnn_digits, 300),
        ("6x1024 MLP (b=256)", wide_mlp, 60),
    ]
    with tempfile.TemporaryDirectory() as root:
        print(
            f"{'model':28s} {'variant':26s} {'median step':>12s} {'ratio':>7s} "
            f"{'mean step':>11s} {'ratio':>7s}"
        )
        for title, factory, steps in [c for c in cases if args.only in c[0]]:
            steps = steps // 4 if args.quick else steps
            # Interleave repetitions so drift in machine load hits every variant alike.
            res: dict[str, list[tuple[float, float]]] = {v: [] for v in VARIANTS}
            for _rep in range(3):
                for v in VARIANTS:
                    res[v].append(run_variant(factory, v, steps, warmup=10, root=root))
            med = {v: float(np.median([r[0] for r in res[v]])) for v in VARIANTS}
            mean = {v: float(np.median([r[1] for r in res[v]])) for v in VARIANTS}
            for v in VARIANTS:
                print(
                    f"{title:28s} {v:26s} {med[v] * 1e3:10.3f}ms {med[v] / med['plain']:6.2f}x "
                    f"{mean[v] * 1e3:9.3f}ms {mean[v] / mean['plain']:6.2f}x"
                )
            tb, full = med["tensorboard hist w+g"], med["deepscope every=1 + hist"]
            print(f"{title:28s} {'-> every=1+hist vs TB':26s} {'':>12s} {tb / full:6.2f}x faster")


if __name__ == "__main__":
    main()
