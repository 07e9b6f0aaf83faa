"""Predictions: confusion matrix, per-class precision/recall, calibration and worst mistakes.

Calibration uses equal-width confidence bins and the expected calibration error
``ECE = sum_b (n_b / N) * |accuracy_b - confidence_b|`` (Guo et al., "On calibration of modern
neural networks", 2017; 15 bins as there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepscope.errors import InvalidArgumentError
from deepscope.explain._model import as_labels, predict_proba
from deepscope.explain.artifacts import (
    PNG,
    Blobs,
    ExplainResult,
    class_names,
    clean,
    encode_png,
    to_display,
    unclean,
)

_MAX_PROBS = 2000  # per-sample probabilities stored for at most this many samples


@dataclass
class Predictions(ExplainResult):
    """Everything about what a classifier predicts on a labelled set.

    Example:
        >>> p = ds.explain.predictions(model, X_test, y_test)  # doctest: +SKIP
        >>> p.confusion.sum() == len(y_test), round(p.ece, 3)  # doctest: +SKIP
        (True, 0.021)

    """

    kind = "predictions"
    classes: list[str]
    labels: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray
    confusion: np.ndarray
    calibration: dict[str, Any]
    mistakes: list[dict[str, Any]]
    blobs: Blobs = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.labels)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.labels == self.predicted)) if self.n else float("nan")

    @property
    def ece(self) -> float:
        return float(self.calibration["ece"])

    def per_class(self) -> dict[str, np.ndarray]:
        """``precision``, ``recall``, ``f1`` and ``support`` per class (NaN where undefined)."""
        tp = np.diag(self.confusion).astype(float)
        predicted = self.confusion.sum(axis=0).astype(float)
        support = self.confusion.sum(axis=1).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(predicted > 0, tp / predicted, np.nan)
            recall = np.where(support > 0, tp / support, np.nan)
            f1 = np.where(
                precision + recall > 0, 2 * precision * recall / (precision + recall), np.nan
            )
        return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(int)}

    def _data(self) -> dict[str, Any]:
        pc = self.per_class()
        return {
            "n": self.n,
            "classes": self.classes,
            "accuracy": clean(self.accuracy),
            "confusion": clean(self.confusion),
            "precision": clean(pc["precision"]),
            "recall": clean(pc["recall"]),
            "f1": clean(pc["f1"]),
            "support": clean(pc["support"]),
            "calibration": self.calibration,
            "labels": clean(self.labels),
            "predicted": clean(self.predicted),
            "probabilities": clean(self.probabilities[:_MAX_PROBS], 4),
            "mistakes": self.mistakes,
        }

    @classmethod
    def _from_data(cls, data: dict[str, Any], blobs: Blobs) -> Predictions:
        return cls(
            classes=data["classes"],
            labels=np.asarray(data["labels"], dtype=np.int64),
            predicted=np.asarray(data["predicted"], dtype=np.int64),
            probabilities=unclean(data["probabilities"]),
            confusion=np.asarray(data["confusion"], dtype=np.int64),
            calibration=data["calibration"],
            mistakes=data["mistakes"],
            blobs=blobs,
        )


def calibration(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> dict[str, Any]:
    """Reliability diagram bins and the expected calibration error.

    Example:
        >>> calibration(np.array([0.9, 0.9]), np.array([True, False]), n_bins=2)["ece"]
        0.4

    """
    if n_bins < 1:
        raise InvalidArgumentError(f"n_bins must be >= 1, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin b holds (edges[b], edges[b+1]]; confidence 0 goes to the first bin.
    idx = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    conf_sum = np.bincount(idx, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(idx, weights=correct.astype(float), minlength=n_bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        conf = np.where(count > 0, conf_sum / count, np.nan)
        acc = np.where(count > 0, acc_sum / count, np.nan)
    n = max(1, len(confidence))
    ece = float(np.nansum(count / n * np.abs(acc - conf)))
    return {
        "edges": clean(edges),
        "confidence": clean(conf),
        "accuracy": clean(acc),
        "count": clean(count),
        "ece": round(ece, 6),
    }


def _mistakes(labels, predicted, probs, images, top: int) -> tuple[list[dict], Blobs]:  # noqa: ANN001
    wrong = np.flatnonzero(labels != predicted)
    conf = probs[wrong, predicted[wrong]]
    order = wrong[np.argsort(-conf, kind="stable")][:top]
    blobs: Blobs = {}
    out = []
    for i in order:
        key = None
        if images is not None:
            key = f"mistake_{int(i)}"
            blobs[key] = (PNG, encode_png(to_display(images[i])))
        out.append(
            {
                "index": int(i),
                "label": int(labels[i]),
                "predicted": int(predicted[i]),
                "confidence": round(float(probs[i, predicted[i]]), 6),
                "image": key,
            }
        )
    return out, blobs


def _image_source(images: Any, inputs: Any, n: int) -> np.ndarray | None:
    src = images if images is not None else inputs
    if src is None:
        return None
    arr = src.detach().cpu().numpy() if hasattr(src, "detach") else np.asarray(src)
    if images is None and arr.ndim not in (3, 4):
        return None
    if len(arr) != n:
        raise InvalidArgumentError(f"{len(arr)} images for {n} samples")
    return arr


def predictions(
    model: Any,
    inputs: Any,
    labels: Any,
    *,
    classes: Sequence[Any] | None = None,
    probabilities: Any = None,
    images: Any = None,
    n_bins: int = 15,
    top_mistakes: int = 16,
    batch_size: int = 512,
) -> Predictions:
    """Predict ``inputs`` and compare with ``labels``.

    Args:
        model: a classifier returning logits (softmax is applied; one output column = sigmoid).
            May be None when ``probabilities`` are given.
        inputs: the samples (ignored when ``probabilities`` are given).
        labels: true class per sample.
        classes: class names.
        images: pictures for the mistakes gallery (default: ``inputs`` when they are images).
        probabilities: precomputed ``N x C`` class probabilities instead of running the model.
        n_bins: calibration bins.
        top_mistakes: size of the mistakes gallery.
        batch_size: forward batch size.

    Returns:
        A :class:`Predictions` result.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> run.log_artifact(ds.explain.predictions(model, X_val, y_val))  # doctest: +SKIP

    """
    if probabilities is not None:
        probs = np.asarray(probabilities, dtype=float)
    elif model is None:
        raise InvalidArgumentError("give a model or probabilities=")
    else:
        probs = predict_proba(model, inputs, batch_size)
    if probs.ndim != 2 or len(probs) == 0:
        raise InvalidArgumentError(f"probabilities must be N x C with N > 0, got {probs.shape}")
    n, c = probs.shape
    y = as_labels(labels, n)
    if y.min() < 0 or y.max() >= c:
        raise InvalidArgumentError(f"labels must lie in 0..{c - 1}, got {y.min()}..{y.max()}")
    pred = probs.argmax(axis=1)
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    conf = probs[np.arange(n), pred]
    cal = calibration(conf, pred == y, n_bins)
    imgs = _image_source(images, inputs if probabilities is None else None, n)
    mistakes, blobs = _mistakes(y, pred, probs, imgs, top_mistakes)
    return Predictions(class_names(classes, c), y, pred, probs, confusion, cal, mistakes, blobs)
