"""Explain benchmarks: each runs the anchor and deepscope in the same process and prints ratios.

1. Integrated gradients, 50 steps, on a small CNN and a batch of 32 RGB 32x32 images:
   deepscope's ``attribute`` versus (a) the theoretical cost, 50 forward+backward passes of the
   batch done one after another, and (b) Captum's default call
   ``IntegratedGradients(model).attribute(x, target=t, n_steps=50)``.
2. t-SNE of 10,000 points x 64 dimensions: deepscope's ``embed`` (openTSNE) versus scikit-learn's
   ``TSNE``, both with 2 jobs, both 1,000 iterations (250 with early exaggeration), perplexity 30;
   the 5-NN accuracy of each 2-D map (classes = digit labels) shows the layouts are comparable.

    python bench/explain.py [--part ig|tsne|all] [--n 10000] [--threads 2]

Measured on the development machine (2 cores shared with other jobs, load average 2-10, so
single runs move a lot; rounds are interleaved and medians reported):

    t-SNE 10,000 x 64, 1 thread:   scikit-learn 117.1 s, deepscope 26.6 s  -> 4.41x (5-NN .997/.995)
    t-SNE 10,000 x 64, 2 threads:  scikit-learn 126.7 s, deepscope 37.4 s  -> 3.39x (load ~4)
                                   scikit-learn 121.8 s, deepscope 80.9 s  -> 1.51x (load ~8)
    IG 50 steps, 1 thread:         deepscope 1.13x the 50 sequential passes, 0.59x Captum default
    IG 50 steps, 2 threads:        0.67x the sequential passes, 1.79x Captum default (load ~6;
                                   other runs gave 0.22x-4.9x: not reproducible on this machine)
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from torch import nn

import deepscope as ds

warnings.filterwarnings("ignore")


def _timed(fns, repeats: int) -> list[float]:  # noqa: ANN001
    """Median seconds of each function; rounds interleave them so load changes hit all alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def _cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    ).eval()


def bench_ig(repeats: int) -> None:
    from captum.attr import IntegratedGradients

    model = _cnn()
    x = torch.rand(32, 3, 32, 32)
    target = torch.randint(0, 10, (32,))
    steps = 50

    def theoretical() -> None:
        for _ in range(steps):
            xi = x.clone().requires_grad_(True)
            model(xi)[torch.arange(len(x)), target].sum().backward()

    def captum_default() -> None:
        IntegratedGradients(model).attribute(x, target=target, n_steps=steps)

    def deepscope_ig() -> None:
        ds.explain.attribute(model, x, target=target, method="integrated_gradients", n_steps=steps)

    deepscope_ig()  # warm up allocators and imports
    t_theory, t_captum, t_ds = _timed([theoretical, captum_default, deepscope_ig], repeats)
    print(f"integrated gradients, {steps} steps, batch 32 x 3 x 32 x 32 (median of {repeats}):")
    print(f"  50 x forward+backward (theoretical): {t_theory * 1e3:8.1f} ms")
    print(
        f"  captum default call:                 {t_captum * 1e3:8.1f} ms"
        f"  ({t_captum / t_theory:.2f}x theoretical)"
    )
    print(
        f"  deepscope attribute (incl. pictures): {t_ds * 1e3:7.1f} ms"
        f"  ({t_ds / t_theory:.2f}x theoretical, {t_ds / t_captum:.2f}x captum default)"
    )


def _points(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n x 64 points: scikit-learn digits resampled with small pixel noise (real clusters)."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(X), n)
    return (X[idx] + rng.normal(0, 1.0, (n, 64))).astype(np.float32), y[idx]


def _knn(points: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    return float(cross_val_score(KNeighborsClassifier(5), points, labels, cv=3).mean())


def bench_tsne(n: int, jobs: int) -> None:
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    X, y = _points(n)
    # scikit-learn's Barnes-Hut gradient uses every OpenMP thread whatever n_jobs says: limit the
    # pools so both sides get the same number of threads.
    with threadpool_limits(limits=jobs):
        t0 = time.perf_counter()
        emb = ds.explain.embed(None, X, method="tsne", perplexity=30, n_jobs=jobs, n_iter=750)
        t_ds = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = TSNE(n_components=2, perplexity=30, n_jobs=jobs, random_state=0, init="pca")
        ref = ref.fit_transform(X)
        t_sk = time.perf_counter() - t0
    print(f"t-SNE of {n} x 64 points, {jobs} jobs, 1000 iterations:")
    print(f"  scikit-learn TSNE:            {t_sk:7.1f} s  (5-NN accuracy {_knn(ref, y):.3f})")
    print(
        f"  deepscope embed (openTSNE):   {t_ds:7.1f} s  (5-NN accuracy {_knn(emb.points, y):.3f})"
    )
    print(f"  speed-up: {t_sk / t_ds:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["ig", "tsne", "all"], default="all")
    parser.add_argument("--n", type=int, default=10_000, help="t-SNE points")
    parser.add_argument("--threads", type=int, default=2, help="torch threads and t-SNE jobs")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.part in ("ig", "all"):
        bench_ig(args.repeats)
    if args.part in ("tsne", "all"):
        bench_tsne(args.n, args.threads)


if __name__ == "__main__":
    main()
