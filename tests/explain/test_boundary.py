from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons
from torch import nn

import deepscope as ds
from deepscope.errors import InvalidArgumentError


def _model_predictions(model, inputs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.as_tensor(inputs, dtype=torch.float32)).argmax(dim=1).numpy()


@pytest.fixture(scope="module")
def moons_model():
    torch.manual_seed(0)
    X, y = make_moons(300, noise=0.15, random_state=0)
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    for _ in range(200):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model, X, y


def test_two_d_inputs_use_their_own_plane_and_match_the_model(moons_model):
    model, X, y = moons_model
    res = ds.explain.decision_boundary(model, X, y, resolution=40)
    assert res.projection == "identity" and res.predicted.shape == (40, 40)
    assert np.allclose(res.points, X)
    u, v = np.meshgrid(res.xs, res.ys)
    direct = _model_predictions(model, np.stack([u.ravel(), v.ravel()], axis=1)).reshape(40, 40)
    assert np.array_equal(direct, res.predicted)
    assert len(np.unique(res.predicted)) == 2  # the boundary crosses the grid
    assert np.mean(res.point_predicted == y) > 0.9


def test_pca_plane_matches_model_predictions_on_grid_points(cancer_mlp, cancer):
    X, y, names = cancer
    res = ds.explain.decision_boundary(cancer_mlp, X, y, resolution=30)
    assert res.projection == "pca" and res.axis_labels[0].startswith("PC1")
    assert np.array_equal(
        _model_predictions(cancer_mlp, res.grid_inputs()).reshape(30, 30), res.predicted
    )
    assert np.all((res.probability >= 0.5) & (res.probability <= 1))
    # Points are the data projected on the plane: orthonormal basis, through the mean.
    assert np.allclose(res.basis @ res.basis.T, np.eye(2), atol=1e-6)
    assert np.allclose(res.points, (X - X.mean(axis=0)) @ res.basis.T, atol=1e-4)


def test_two_chosen_features_hold_the_others_at_their_mean(cancer_mlp, cancer):
    X, y, names = cancer
    res = ds.explain.decision_boundary(
        cancer_mlp, X, y, features=(0, 7), feature_names=names, resolution=20
    )
    assert res.axis_labels == [names[0], names[7]]
    grid = res.grid_inputs()
    assert np.allclose(grid[:, 3], X[:, 3].mean(), atol=1e-5)
    assert np.array_equal(_model_predictions(cancer_mlp, grid).reshape(20, 20), res.predicted)


def test_bad_arguments(cancer_mlp, cancer):
    X, y, _ = cancer
    with pytest.raises(InvalidArgumentError, match="two different"):
        ds.explain.decision_boundary(cancer_mlp, X, y, features=(1, 1))
    with pytest.raises(InvalidArgumentError, match="resolution"):
        ds.explain.decision_boundary(cancer_mlp, X, y, resolution=1)
    with pytest.raises(InvalidArgumentError, match="2 features"):
        ds.explain.decision_boundary(cancer_mlp, X[:, :1], y)
