"""A compact set of explain results for a trained image classifier, as logged by the demo.

One call gives every explain view real content: attribution galleries for three methods, an
embedding of a hidden layer with labels and thumbnails, predictions and weight pictures.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.explain.attribution import attribute
from deepscope.explain.embedding import embed
from deepscope.explain.predictions import predictions
from deepscope.explain.weights import weights

SHOWCASE_METHODS = ("integrated_gradients", "saliency", "grad_cam")


def log_explanations(
    run: Any,
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    layer: str,
    classes: Sequence[str] | None = None,
    n_attributions: int = 16,
    method: str = "tsne",
    step: int | None = None,
) -> list[str]:
    """Log attributions, an embedding of ``layer``, predictions and weights of ``model``.

    Args:
        run: a :class:`deepscope.Run` (anything with ``log_artifact``).
        model: a trained image classifier.
        images: ``N x C x H x W`` held-out images.
        labels: their classes.
        layer: hidden layer to embed.
        classes: class names.
        n_attributions: images in each attribution gallery.
        method: embedding method.
        step: step to store the results at (default: the run's current step).

    Returns:
        The kinds logged, in order; a result that cannot be computed (NaN weights of a diverged
        model, say) is skipped with a warning.

    Example:
        >>> log_explanations(run, cnn, x_val, y_val, layer="fc1")  # doctest: +SKIP

    """
    x, y = images[:n_attributions], labels[:n_attributions]
    # One t-SNE thread: small sets gain nothing from more, and a busy machine loses a lot.
    options = {"n_jobs": 1} if method == "tsne" else {}
    jobs: list[tuple[str, Callable[[], Any]]] = [
        (f"attributions/{m}", partial(attribute, model, x, method=m, labels=y, classes=classes))
        for m in SHOWCASE_METHODS
    ]
    jobs += [
        (
            f"embedding/{layer}",
            partial(
                embed,
                model,
                images,
                layer=layer,
                labels=labels,
                method=method,
                classes=classes,
                **options,
            ),
        ),
        ("predictions/val", partial(predictions, model, images, labels, classes=classes)),
        ("weights", partial(weights, model)),
    ]
    kinds = []
    was_training = model.training
    model.eval()
    try:
        for name, job in jobs:
            try:
                result = job()
            except DeepscopeError as err:  # e.g. a diverged model with NaN weights
                warnings.warn(f"{name} not logged: {err}", stacklevel=2)
                continue
            run.log_artifact(result, name=name, step=step)
            kinds.append(result.kind)
    finally:
        model.train(was_training)
    return kinds
