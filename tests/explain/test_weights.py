from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.errors import InvalidArgumentError
from deepscope.explain.weights import filter_grid, fit_power_law, quality


@pytest.mark.parametrize("alpha", [2.5, 4.0])
def test_power_law_fit_recovers_a_known_exponent(alpha):
    rng = np.random.default_rng(0)
    samples = rng.pareto(alpha - 1, 4000) + 1.0  # density ~ x^-alpha for x >= 1
    fit = fit_power_law(samples)
    assert fit["alpha"] == pytest.approx(alpha, rel=0.1)
    assert fit["alpha_ks"] < 0.05


def test_too_few_eigenvalues_give_no_alpha():
    assert fit_power_law(np.arange(1.0, 6.0))["alpha"] is None
    assert quality(None) == "unknown"
    assert [quality(a) for a in (1.5, 3.0, 8.0)] == ["over_fit", "well_trained", "under_trained"]


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
