from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

import deepscope as ds
from deepscope.errors import InvalidArgumentError
from deepscope.explain.predictions import calibration


def test_confusion_and_per_class_metrics_match_scikit_learn(cnn, digits):
    _, images, y = digits
    res = ds.explain.predictions(cnn, images[1500:], y[1500:])
    n = len(y) - 1500
    assert res.n == n and int(res.confusion.sum()) == n
    assert np.array_equal(res.confusion.sum(axis=1), np.bincount(y[1500:], minlength=10))
    p, r, f, s = precision_recall_fscore_support(
        y[1500:], res.predicted, labels=range(10), zero_division=0
    )
    pc = res.per_class()
    assert np.allclose(np.nan_to_num(pc["precision"]), p) and np.allclose(pc["recall"], r)
    assert np.array_equal(pc["support"], s)
    assert res.accuracy > 0.85


def test_mistakes_are_real_and_most_confident_first(cnn, digits):
    _, images, y = digits
    res = ds.explain.predictions(cnn, images[1500:], y[1500:], top_mistakes=5)
    assert 0 < len(res.mistakes) <= 5
    confs = [m["confidence"] for m in res.mistakes]
    assert confs == sorted(confs, reverse=True)
    for m in res.mistakes:
        assert m["label"] == y[1500 + m["index"]] != m["predicted"]
        assert res.blobs[m["image"]][0] == "image/png"


def test_ece_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.3, 1.0, 1000)
    correct = rng.uniform(size=1000) < conf**2  # over-confident on purpose
    cal = calibration(conf, correct, n_bins=10)
    ece = 0.0
    for lo in np.arange(10) / 10:
        m = (conf > lo) & (conf <= lo + 0.1)
        if m.any():
            ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    assert cal["ece"] == pytest.approx(ece, abs=1e-6)
    assert sum(cal["count"]) == 1000
    assert cal["ece"] > 0.05


def test_perfect_calibration_has_small_ece():
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 20000)
    correct = rng.uniform(size=20000) < conf
    assert calibration(conf, correct)["ece"] < 0.02


def test_probabilities_instead_of_a_model_and_binary_sigmoid_outputs():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    res = ds.explain.predictions(None, None, [0, 0, 0], probabilities=probs, classes=["neg", "pos"])
    assert res.confusion.tolist() == [[2, 1], [0, 0]]
    assert res.mistakes[0]["index"] == 1 and res.mistakes[0]["image"] is None

    import torch

    model = torch.nn.Linear(2, 1)
    out = ds.explain.predictions(model, torch.randn(20, 2), np.zeros(20, dtype=int))
    assert out.probabilities.shape == (20, 2) and np.allclose(out.probabilities.sum(axis=1), 1)


def test_bad_labels_are_rejected(cnn, digits):
    _, images, _ = digits
    with pytest.raises(InvalidArgumentError, match="0..9"):
        ds.explain.predictions(cnn, images[:4], [0, 1, 2, 12])
    with pytest.raises(InvalidArgumentError, match="4 entries"):
        ds.explain.predictions(cnn, images[:4], [0, 1])
    with pytest.raises(InvalidArgumentError, match="model or probabilities"):
        ds.explain.predictions(None, images[:4], [0, 1, 2, 3])
