"""Fast on-device statistics against slow, obviously correct numpy references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepscope.capture.stats import LARGE, StepStats, unit_dim_for
from deepscope.store.schema import STAT_FIELDS

F = {name: i for i, name in enumerate(STAT_FIELDS)}
SHAPES = [(1,), (7,), (64, 33), (8, 3, 5, 5), (4, 6, 10), (300, 300)]  # small and large regimes
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def reference(x: np.ndarray) -> dict[str, float]:
    x = x.astype(np.float64).reshape(-1)
    return {
        "count": x.size,
        "mean": x.mean(),
        "std": x.std(ddof=1) if x.size > 1 else 0.0,
        "min": x.min(),
        "max": x.max(),
        "norm": np.sqrt((x * x).sum()),
        "zero_frac": (x == 0).mean(),
        "nonfinite": 0,
    }


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_moments_match_reference(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    x = (torch.randn(shape) * 3 + 0.5).to(dtype)
    x.view(-1)[:: max(2, x.numel() // 5)] = 0  # some exact zeros
    s = StepStats(0, bins=16, histograms=True)
    s.add("l", "weight", x)
    rows, hists = s.collect()
    ((_, _, vec),) = rows
    ref = reference(x.float().numpy())
    tol = 1e-5 if dtype in (torch.float32, torch.float64) else 1e-2
    sampled = x.numel() >= LARGE  # zero share and histogram from a fixed sample
    for name, want in ref.items():
        t = 2e-3 if sampled and name == "zero_frac" else tol
        assert vec[F[name]] == pytest.approx(want, rel=tol, abs=t), name
    ((_, _, lo, hi, counts),) = hists
    assert counts.sum() == x.numel()
    np_counts, _ = np.histogram(x.float().numpy(), bins=16, range=(lo, hi))
    if sampled:
        assert np.abs(np_counts - counts).sum() / x.numel() < 0.03
    else:
        assert np.abs(np_counts - counts).sum() <= 2  # bin-edge rounding only


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_large_tensor_zero_share_from_the_sample(share: float) -> None:
    torch.manual_seed(0)
    x = torch.randn(512, 1024)
    x[torch.rand_like(x) < share] = 0
    s = StepStats(0, bins=16, histograms=True)
    s.add("l", "grad", x)
    ((_, _, vec),), _ = s.collect()
    assert vec[F["zero_frac"]] == pytest.approx((x == 0).float().mean().item(), abs=0.01)
    assert vec[F["norm"]] == pytest.approx(x.norm().item(), rel=1e-5)  # exact passes


def test_nonfinite_counted_and_moments_blanked() -> None:
    x = torch.randn(100)
    x[3], x[10], x[50] = float("nan"), float("inf"), float("-inf")
    s = StepStats(0, bins=8, histograms=True)
    s.add("l", "activation", x)
    rows, hists = s.collect()
    vec = rows[0][2]
    assert vec[F["nonfinite"]] == 3
    assert np.isnan(vec[F["mean"]]) and np.isnan(vec[F["norm"]])
    assert hists == []


def test_dead_units_per_channel_and_per_feature() -> None:
    x = torch.relu(torch.randn(32, 6, 4, 4))
    x[:, [1, 4]] = 0  # two of six channels never fire
    s = StepStats(0, bins=8, histograms=False)
    s.add("conv", "activation", x, unit_dim=unit_dim_for(x))
    h = torch.relu(torch.randn(32, 10))
    h[:, :5] = -1.0
    s.add("fc", "activation", torch.relu(h), unit_dim=unit_dim_for(h))
    rows = {layer: vec for layer, _, vec in s.collect()[0]}
    assert rows["conv"][F["dead_frac"]] == pytest.approx(2 / 6)
    assert rows["fc"][F["dead_frac"]] == pytest.approx(0.5)


def test_saturation_share() -> None:
    x = torch.cat([torch.full((30,), 0.999), torch.full((70,), 0.5)])
    s = StepStats(0, bins=8, histograms=False)
    s.add("sig", "activation", x, bounds=(0.0, 1.0))
    vec = s.collect()[0][0][2]
    assert vec[F["saturated_frac"]] == pytest.approx(0.3)


def test_repeated_calls_merge_moments() -> None:
    a, b = torch.randn(50), torch.randn(70) + 2
    s = StepStats(0, bins=8, histograms=False)
    s.add("shared", "activation", a)
    s.add("shared", "activation", b)
    vec = s.collect()[0][0][2]
    ref = reference(torch.cat([a, b]).numpy())
    for name in ("count", "mean", "std", "min", "max", "norm"):
        assert vec[F[name]] == pytest.approx(ref[name], rel=1e-5), name


def test_update_ratio() -> None:
    w = torch.randn(100)
    delta = 1e-3 * torch.randn(100)
    s = StepStats(0, bins=8, histograms=False)
    s.add("fc", "update", delta)
    s.add("fc", "_before", w)
    s.ratio("fc", "update", "_before")
    vec = dict(((layer, kind), v) for layer, kind, v in s.collect()[0])[("fc", "update")]
    assert vec[F["update_ratio"]] == pytest.approx((delta.norm() / w.norm()).item(), rel=1e-5)


@pytest.mark.parametrize("sizes", [(10, 3), (70_000, 50), (70_000, 80_000)])
def test_parameter_sets_merge_across_regimes(sizes: tuple[int, int]) -> None:
    torch.manual_seed(0)
    weight, bias = torch.randn(sizes[0]) * 2, torch.randn(sizes[1]) + 1
    s = StepStats(0, bins=8, histograms=True)
    s.add("fc", "weight", [weight, bias])
    s.add("other", "activation", torch.randn(40))  # reduced in the same batch as small tensors
    rows = {layer: vec for layer, _, vec in s.collect()[0]}
    ref = reference(torch.cat([weight, bias]).numpy())
    for name in ("count", "mean", "std", "min", "max", "norm", "zero_frac"):
        assert rows["fc"][F[name]] == pytest.approx(ref[name], rel=1e-4, abs=1e-6), name


def test_many_small_and_mid_size_tensors_of_one_step() -> None:
    """Small tensors are reduced together segment by segment, mid-size ones in numpy, large
    ones in torch: every key still gets its own exact moments and non-finite count."""
    torch.manual_seed(0)
    sizes = [1, 2, 640, 16_383, 16_384, 40_000, 70_000, 600_000]
    xs = [torch.randn(n) * (k + 1) - k for k, n in enumerate(sizes)]
    xs[2][:40] = 0
    xs[1][0] = float("nan")
    xs[6][5] = float("inf")
    s = StepStats(0, bins=8, histograms=False)
    for k, x in enumerate(xs):
        s.add(f"l{k}", "activation", x)
    rows = {layer: vec for layer, _, vec in s.collect()[0]}
    for k, x in enumerate(xs):
        vec = rows[f"l{k}"]
        bad = int((~torch.isfinite(x)).sum())
        assert vec[F["nonfinite"]] == bad, k
        if bad:
            assert np.isnan(vec[F["mean"]]), k
            continue
        ref = reference(x.numpy())
        for name in ("count", "mean", "std", "min", "max", "norm", "zero_frac"):
            assert vec[F[name]] == pytest.approx(ref[name], rel=1e-4, abs=2e-3), (k, name)
