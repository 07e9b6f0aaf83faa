from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.errors import InvalidArgumentError


class _UsesFeatureZero(nn.Module):
    """Class = sign of feature 0; the other features are ignored."""

    def forward(self, x):
        return torch.stack([-x[:, 0], x[:, 0]], dim=1)


@pytest.mark.parametrize("method", ["permutation", "ablation"])
def test_only_the_used_feature_matters(method):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    res = ds.explain.feature_importance(_UsesFeatureZero(), X, y, method=method, repeats=5)
    assert res.baseline_score == 1.0
    assert res.order[0] == 0
    assert res.ci_low[0] > 0.3  # shuffling/ablating feature 0 destroys the accuracy
    assert np.allclose(res.importance[1:], 0) and np.allclose(res.std[1:], 0)


def test_real_model_importances_with_confidence_intervals(cancer_mlp, cancer):
    X, y, names = cancer
    res = ds.explain.feature_importance(cancer_mlp, X, y, repeats=8, feature_names=names)
    assert res.kind == "feature_importance" and res.repeats == 8
    assert res.baseline_score > 0.95
    assert np.all(res.ci_low <= res.importance) and np.all(res.importance <= res.ci_high)
    top = res.order[0]
    assert res.importance[top] == res.importance.max() > 0
    assert res.feature_names[top] in names


def test_custom_metric_and_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)).astype(np.float32)
    y = 3 * X[:, 2]
    model = nn.Linear(3, 1)
    with torch.no_grad():
        model.weight[:] = torch.tensor([[0.0, 0.0, 3.0]])
        model.bias.zero_()
    res = ds.explain.feature_importance(model, X, y, metric="r2", repeats=4)
    assert res.order[0] == 2 and res.baseline_score == pytest.approx(1.0)

    def neg_mae(outputs, target):
        return -float(np.mean(np.abs(outputs.numpy()[:, 0] - target)))

    res = ds.explain.feature_importance(model, X, y, metric=neg_mae, repeats=3)
    assert res.metric == "neg_mae" and res.order[0] == 2


def test_bad_arguments(cancer_mlp, cancer):
    X, y, _ = cancer
    for kwargs, message in [
        ({"method": "shap"}, "unknown method"),
        ({"repeats": 1}, "repeats"),
        ({"metric": "auc"}, "unknown metric"),
        ({"feature_names": ["a"]}, "feature names"),
    ]:
        with pytest.raises(InvalidArgumentError, match=message):
            ds.explain.feature_importance(cancer_mlp, X, y, **kwargs)
    with pytest.raises(InvalidArgumentError, match="rows"):
        ds.explain.feature_importance(cancer_mlp, X, y[:5])
    with pytest.raises(InvalidArgumentError, match="tabular"):
        ds.explain.feature_importance(cancer_mlp, X[:, :, None], y)
