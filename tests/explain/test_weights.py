from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.errors import InvalidArgumentError
from deepscope.explain.weights import MIN_EIGS_TO_JUDGE, filter_grid, fit_power_law, judge, quality


@pytest.mark.parametrize("alpha", [2.5, 4.0])
def test_power_law_fit_recovers_a_known_exponent(alpha):
    rng = np.random.default_rng(0)
    samples = rng.pareto(alpha - 1, 4000) + 1.0  # density ~ x^-alpha for x >= 1
    fit = fit_power_law(samples)
    assert fit["alpha"] == pytest.approx(alpha, rel=0.1)
    assert fit["alpha_ks"] < 0.05


def test_too_few_eigenvalues_give_no_alpha():
    assert fit_power_law(np.arange(1.0, 6.0))["alpha"] is None
    assert [quality(a) for a in (1.5, 3.0, 8.0)] == ["over_fit", "well_trained", "under_trained"]
    good = {"alpha": 3.0, "alpha_ks": 0.05, "alpha_n_tail": 60}
    assert judge(good, MIN_EIGS_TO_JUDGE - 1, 3.0)[0] == "too_small"
    assert judge({**good, "alpha_n_tail": 12}, 500, 3.0)[0] == "too_small"
    assert judge(good, 500, 1.02)[0] == "random_like"
    assert judge({**good, "alpha_ks": 0.3}, 500, 3.0)[0] == "no_power_law"
    assert judge(good, 500, 3.0) == ("well_trained",
                                     "alpha 3.00 (in [2, 6]) on a 60-eigenvalue tail")


@pytest.mark.parametrize("shape", [(10, 64), (64, 64), (128, 256), (512, 512)])
def test_randomly_initialised_layers_are_never_labelled_trained(shape):
    torch.manual_seed(0)
    entry = ds.explain.weights(nn.Linear(shape[1], shape[0])).layers[0]
    assert entry["quality"] in ("too_small", "random_like"), entry["quality_reason"]
    if min(shape) < MIN_EIGS_TO_JUDGE:
        assert entry["quality"] == "too_small" and "too small to judge" in entry["quality_reason"]


def test_spectra_images_and_shapes(cnn):
    res = ds.explain.weights(cnn)
    names = [e["name"] for e in res.layers]
    assert names == ["conv1", "conv2", "fc"]
    conv2 = res.layer("conv2")
    w = cnn.conv2.weight.detach().numpy().reshape(16, -1)
    assert np.allclose(conv2["singular_values"], np.linalg.svd(w, compute_uv=False), rtol=1e-4)
    assert conv2["image_kind"] == "filters" and res.layer("fc")["image_kind"] == "matrix"
    grid = res.blob_image("filters_conv2")
    assert grid.shape == (16 * 4, 16 * 4, 3)  # 16 out x 16 in filters of 3x3 with 1-px gaps
    assert conv2["stable_rank"] >= 1.0


def test_heavy_tailed_layer_has_smaller_alpha_and_better_fit_than_a_gaussian_one():
    torch.manual_seed(0)
    gaussian = nn.Linear(400, 200)
    nn.init.normal_(gaussian.weight)
    heavy = nn.Linear(400, 200)
    rng = np.random.default_rng(0)
    with torch.no_grad():  # Cauchy-like entries give a heavy-tailed spectrum
        heavy.weight[:] = torch.as_tensor(rng.standard_t(1.5, size=(200, 400)), dtype=torch.float32)
    g = ds.explain.weights(gaussian).layers[0]
    h = ds.explain.weights(heavy).layers[0]
    assert h["name"] == "<root>"
    # A Marchenko-Pastur bulk has no power-law tail: the fit is poor (large KS distance).
    assert h["alpha"] < 2 < g["alpha"]
    assert g["alpha_ks"] > 0.1 > h["alpha_ks"]
    assert g["quality"] == "random_like" and h["quality"] == "over_fit"
    assert h["mp_edge_ratio"] > 2 > g["mp_edge_ratio"]


def test_filter_grid_layout():
    w = np.zeros((2, 3, 2, 2))
    w[1, 2] = 1.0
    grid = filter_grid(w)
    assert grid.shape == (6, 9, 3)
    assert np.allclose(grid[2, 0], 1.0)  # gap pixels are white


def test_bad_arguments(cnn):
    with pytest.raises(InvalidArgumentError, match="conv9"):
        ds.explain.weights(cnn, layers=["conv9"])
    with pytest.raises(InvalidArgumentError, match="nn.Module"):
        ds.explain.weights(lambda x: x)
    with pytest.raises(InvalidArgumentError, match="no weight matrices"):
        ds.explain.weights(nn.ReLU())
