"""Every explain result for the healthy demo CNN, so every explain view of the demo has content.

The attribution galleries, embedding, predictions and weights come from
:func:`deepscope.explain.showcase.log_explanations`; this adds feature importance and the
decision boundary (on the 64 pixels, through a wrapper that takes flat rows) and the activation
maximisation of the second convolution's channels. The broken runs store their predictions
(and the small ones their weights), so those views can set each beside the healthy run.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeError


class FlatImages(nn.Module):
    """Takes N x 64 rows, gives the CNN N x 1 x 8 x 8 images (importance and boundary want rows)."""

    def __init__(self, cnn: nn.Module):
        super().__init__()
        self.cnn = cnn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(x.reshape(len(x), 1, 8, 8))


def log_demo_explanations(run: Any, model: nn.Module, images: torch.Tensor,
                          labels: torch.Tensor, *, step: int) -> list[str]:
    """Log the showcase results plus importance, boundary and maximisation of ``model``."""
    from deepscope.explain import decision_boundary, feature_importance, maximize
    from deepscope.explain.showcase import log_explanations

    kinds = log_explanations(run, model, images, labels, layer="fc1", step=step)
    rows = images.reshape(len(images), -1)[:180]  # 64 pixels x 8 shuffles of 180 digits: ~3 s
    names = [f"pixel ({r}, {c})" for r in range(8) for c in range(8)]
    lo, hi = float(images.min()), float(images.max())
    flat = FlatImages(model).eval()
    jobs = [
        ("importance/pixels", lambda: feature_importance(flat, rows, labels[:180], repeats=8,
                                                          feature_names=names)),
        ("boundary/pca", lambda: decision_boundary(flat, rows, labels[:180], resolution=80)),
        ("maximization/features.2", lambda: maximize(model, "features.2", list(range(8)),
                                                     input_shape=(1, 8, 8), steps=96,
                                                     value_range=(lo, hi))),
    ]
    model.eval()
    for name, job in jobs:
        try:
            result = job()
        except DeepscopeError as err:
            warnings.warn(f"{name} not logged: {err}", stacklevel=2)
            continue
        run.log_artifact(result, name=name, step=step)
        kinds.append(result.kind)
    return kinds


def log_demo_results(run: Any, model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
                     stores: tuple[str, ...], *, step: int) -> list[str]:
    """Log what a broken run keeps for comparison (``predictions``, ``weights``); the kinds logged.

    A diverged model (the NaN run) stores nothing: NaN probabilities would draw a meaningless
    matrix and NaN weights have no spectrum, and the views say the run has none.
    """
    from deepscope.explain import predictions, weights

    model.eval()
    with torch.no_grad():
        if not torch.isfinite(model(inputs)).all():
            return []
    images = inputs.reshape(len(inputs), 1, 8, 8)
    jobs = {"predictions": ("predictions/val", lambda: predictions(model, inputs, labels,
                                                                   images=images)),
            "weights": ("weights", lambda: weights(model))}
    for kind in stores:
        name, job = jobs[kind]
        run.log_artifact(job(), name=name, step=step)
    return list(stores)
