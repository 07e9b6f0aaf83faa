from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

import deepscope as ds
from deepscope.errors import InvalidArgumentError
from deepscope.explain import METHODS, Attributions

PNG_MAGIC = b"\x89PNG"


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_image_maps_and_pictures(cnn, digits, method):
    _, images, y = digits
    x = images[1500:1508]
    res = ds.explain.attribute(cnn, x, method=method, labels=y[1500:1508])
    assert res.kind == "attributions" and res.input_kind == "image"
    maps = res.maps()
    assert maps.shape == (8, 8, 8)
    assert np.all(np.isfinite(maps)) and np.abs(maps).sum() > 0
    s = res.samples[0]
    assert s["label"] == int(y[1500])
    assert s["target"] == s["predicted"]  # target=None explains the prediction
    assert res.blobs[s["input"]][1][:4] == PNG_MAGIC
    assert res.blobs[s["heatmap"]][0] == "image/png"
    if method == "grad_cam":
        assert res.layer == "conv2"  # the last conv layer, chosen automatically


def test_integrated_gradients_completeness(mlp, digits):
    # Sundararajan et al. (2017): attributions sum to F(x) - F(baseline) for the target output.
    flat, _, _ = digits
    x = flat[1500:1520]
    res = ds.explain.attribute(mlp, x, method="integrated_gradients", n_steps=64)
    with torch.no_grad():
        out = mlp(x)
        base = mlp(torch.zeros_like(x))
    t = torch.as_tensor([s["target"] for s in res.samples])
    expected = (out[torch.arange(20), t] - base[torch.arange(20), t]).numpy()
    total = res.raw.reshape(20, -1).sum(axis=1)
    assert np.allclose(total, expected, atol=1e-2 * np.abs(expected).max())
    assert max(abs(s["delta"]) for s in res.samples) < 1e-2 * np.abs(expected).max()


def _rank_similarity(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    rhos = []
    for i in range(len(a)):
        m = np.ones(a[i].shape, bool) if mask is None else mask[i]
        with warnings.catch_warnings():  # a constant map (all-zero CAM) has no rank correlation
            warnings.simplefilter("ignore")
            rhos.append(spearmanr(a[i][m], b[i][m])[0])
    return float(np.nanmean(rhos))


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "grad_cam", "occlusion"])
def test_model_parameter_randomisation_changes_attributions(cnn, digits, method):
    # Adebayo et al., "Sanity checks for saliency maps" (2018): re-initialising the weights must
    # change the explanation. Signed methods are compared on the pixels the input actually uses
    # (a zero pixel gets zero attribution from a zero baseline in both models).
    _, images, y = digits
    x, target = images[1500:1532], torch.as_tensor(y[1500:1532])
    randomised = copy.deepcopy(cnn)
    torch.manual_seed(1)
    for module in randomised.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    a = ds.explain.attribute(cnn, x, target=target, method=method).maps()
    b = ds.explain.attribute(randomised, x, target=target, method=method).maps()
    mask = (x[:, 0] != 0).numpy() if method in ("integrated_gradients", "occlusion") else None
    assert _rank_similarity(a, a.copy(), mask) > 0.99  # the measure itself can say "same"
    assert _rank_similarity(a, b, mask) < 0.5


def test_tabular_attributions_have_one_value_per_feature(cancer_mlp, cancer):
    X, y, names = cancer
    res = ds.explain.attribute(cancer_mlp, X[:10], method="gradient_shap", feature_names=names)
    assert res.input_kind == "tabular" and res.feature_names == names
    assert res.maps().shape == (10, 30)
    assert len(res.samples[0]["inputs"]) == 30
    with pytest.raises(InvalidArgumentError, match="feature names"):
        ds.explain.attribute(cancer_mlp, X[:10], method="saliency", feature_names=names[:3])
    with pytest.raises(InvalidArgumentError, match="image"):
        ds.explain.attribute(cancer_mlp, X[:10], method="grad_cam")


class _TokenModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.fc = nn.Linear(8, 2)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(dim=1))


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "occlusion"])
def test_token_attributions_score_every_token(method):
    torch.manual_seed(0)
    model = _TokenModel()
    ids = torch.randint(1, 30, (3, 5))
    words = [[f"w{int(i)}" for i in row] for row in ids]
    res = ds.explain.attribute(model, ids, method=method, tokens=words)
    assert res.input_kind == "tokens" and res.layer == "emb"
    assert res.samples[1]["tokens"] == words[1]
    assert len(res.samples[1]["scores"]) == 5
    if method == "integrated_gradients":  # completeness holds at the embedding layer too
        assert abs(res.samples[0]["delta"]) < 1e-3


def test_token_inputs_reject_continuous_only_methods():
    with pytest.raises(InvalidArgumentError, match="token"):
        ds.explain.attribute(_TokenModel(), torch.randint(0, 30, (2, 4)), method="smoothgrad")


def test_bad_arguments_are_one_line_errors(cnn, digits):
    _, images, _ = digits
    x = images[:2]
    cases = [
        ({"method": "lime"}, "unknown attribution method"),
        ({"method": "grad_cam", "layer": "nope"}, "no layer 'nope'"),
        ({"method": "saliency", "n_steps": 3}, "does not take"),
        ({"method": "saliency", "target": 12}, "target 12"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidArgumentError, match=message) as info:
            ds.explain.attribute(cnn, x, **kwargs)
        assert "\n" not in str(info.value)
    with pytest.raises(InvalidArgumentError, match="empty"):
        ds.explain.attribute(cnn, images[:0])


def test_single_logit_binary_models_explain_the_positive_class():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = torch.randn(5, 3)
    res = ds.explain.attribute(model, x, method="integrated_gradients")
    with torch.no_grad():
        p = torch.sigmoid(model(x))[:, 0].numpy()
    assert [s["target"] for s in res.samples] == [1] * 5
    assert np.allclose([s["probability"] for s in res.samples], p, atol=1e-5)
    assert max(abs(s["delta"]) for s in res.samples) < 1e-3


def test_explicit_target_and_layer(cnn, digits):
    _, images, _ = digits
    res = ds.explain.attribute(cnn, images[:4], target=7, method="grad_cam", layer="conv1")
    assert res.layer == "conv1"
    assert [s["target"] for s in res.samples] == [7] * 4
    assert isinstance(Attributions.from_artifact(_stored(res)), Attributions)


def _stored(res):
    from deepscope.store.records import Artifact, ArtifactInfo

    kind, data, blobs = res.to_artifact()
    return Artifact(ArtifactInfo(1, kind, kind, None, 0.0, tuple(blobs)), data, blobs)
