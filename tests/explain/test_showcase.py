from __future__ import annotations

import copy

import pytest
import torch

from deepscope.explain.showcase import log_explanations


class _Collect:
    def __init__(self):
        self.logged = []

    def log_artifact(self, result, name=None, step=None):
        self.logged.append((name, result.kind, step))


def test_logs_every_view_for_a_trained_cnn(cnn, digits):
    _, images, y = digits
    run = _Collect()
    kinds = log_explanations(run, cnn, images[1500:1700], torch.as_tensor(y[1500:1700]),
                             layer="fc", n_attributions=4, method="pca", step=7)
    assert kinds == ["attributions"] * 3 + ["embedding", "predictions", "weights"]
    assert run.logged[3] == ("embedding/fc", "embedding", 7)
    assert not cnn.training


def test_a_diverged_model_skips_what_cannot_be_computed(cnn, digits):
    _, images, y = digits
    broken = copy.deepcopy(cnn)
    with torch.no_grad():
        broken.fc.weight[0, 0] = float("nan")
    run = _Collect()
    with pytest.warns(UserWarning, match="not logged"):
        kinds = log_explanations(run, broken, images[:50], torch.as_tensor(y[:50]), layer="fc",
                                 n_attributions=2, method="pca")
    assert "weights" not in kinds and "predictions" in kinds
