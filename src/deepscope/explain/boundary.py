"""Decision boundary: the model's predicted class over a grid on a plane through the data.

Two-dimensional inputs use their own plane. Higher-dimensional inputs use the plane through the
data mean spanned by the first two principal components, or two chosen features with the others
held at their means. A grid point ``(u, v)`` is the input ``origin + u * basis[0] + v * basis[1]``,
which is stored so anyone can re-run the model on exactly the grid that was drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from deepscope.errors import InvalidArgumentError
from deepscope.explain._model import as_labels, predict_proba
from deepscope.explain.artifacts import Blobs, ExplainResult, class_names, clean, unclean


@dataclass
class DecisionBoundary(ExplainResult):
    """Predicted class and probability over a 2-D grid, with the data projected on it.

    Example:
        >>> db = ds.explain.decision_boundary(model, X, y)  # doctest: +SKIP
        >>> db.predicted.shape  # doctest: +SKIP
        (100, 100)

    """

    kind = "decision_boundary"
    projection: str
    origin: np.ndarray
    basis: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    predicted: np.ndarray
    probability: np.ndarray
    classes: list[str]
    points: np.ndarray
    point_predicted: np.ndarray
    labels: np.ndarray | None = None
    features: list[int] | None = None
    axis_labels: list[str] = field(default_factory=lambda: ["x", "y"])
    blobs: Blobs = field(default_factory=dict)

    def grid_inputs(self) -> np.ndarray:
        """The model inputs of every grid point, ``(ny * nx) x D`` in row-major grid order."""
        u, v = np.meshgrid(self.xs, self.ys)
        return self.origin + u.reshape(-1, 1) * self.basis[0] + v.reshape(-1, 1) * self.basis[1]

    def _data(self) -> dict[str, Any]:
        return {
            "projection": self.projection,
            "features": self.features,
            "axis_labels": self.axis_labels,
            "origin": clean(self.origin),
            "basis": clean(self.basis),
            "xs": clean(self.xs),
            "ys": clean(self.ys),
            "predicted": clean(self.predicted),
            "probability": clean(self.probability, 4),
            "classes": self.classes,
            "points": clean(self.points, 5),
            "labels": None if self.labels is None else clean(self.labels),
            "point_predicted": clean(self.point_predicted),
        }

    @classmethod
    def _from_data(cls, data: dict[str, Any], blobs: Blobs) -> DecisionBoundary:
        labels = data.get("labels")
        return cls(
            projection=data["projection"],
            origin=unclean(data["origin"]),
            basis=unclean(data["basis"]),
            xs=unclean(data["xs"]),
            ys=unclean(data["ys"]),
            predicted=np.asarray(data["predicted"], dtype=np.int64),
            probability=unclean(data["probability"]),
            classes=data["classes"],
            points=unclean(data["points"]),
            point_predicted=np.asarray(data["point_predicted"], dtype=np.int64),
            labels=None if labels is None else np.asarray(labels, dtype=np.int64),
            features=data.get("features"),
            axis_labels=data.get("axis_labels", ["x", "y"]),
            blobs=blobs,
        )


def _plane(x: np.ndarray, features: Sequence[int] | None, names: Sequence[str] | None) -> tuple:
    """(projection, origin, basis 2 x D, axis labels) of the plane to draw."""
    d = x.shape[1]
    label = (lambda j: str(names[j])) if names is not None else (lambda j: f"feature {j}")
    if features is not None:
        i, j = (int(f) for f in features)
        if len({i, j}) != 2 or not (0 <= i < d and 0 <= j < d):
            raise InvalidArgumentError(f"features must be two different indices in 0..{d - 1}")
        origin = x.mean(axis=0)
        origin[[i, j]] = 0.0
        basis = np.zeros((2, d))
        basis[0, i], basis[1, j] = 1.0, 1.0
        return "features", origin, basis, [label(i), label(j)]
    if d == 2:
        return "identity", np.zeros(2), np.eye(2), [label(0), label(1)]
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2).fit(x)
    ratio = pca.explained_variance_ratio_
    axes = [f"PC1 ({ratio[0]:.0%})", f"PC2 ({ratio[1]:.0%})"]
    return "pca", pca.mean_.astype(float), pca.components_.astype(float), axes


def decision_boundary(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    features: Sequence[int] | None = None,
    feature_names: Sequence[str] | None = None,
    classes: Sequence[Any] | None = None,
    resolution: int = 100,
    margin: float = 0.1,
    batch_size: int = 4096,
) -> DecisionBoundary:
    """Predicted class over a grid covering the data, on the data's plane.

    Args:
        model: a classifier taking ``N x D`` float rows.
        X: ``N x D`` data (flattened when it has more dimensions).
        y: labels for the points.
        features: two feature indices to plot (others at their mean) instead of PCA.
        feature_names: names for the axes.
        classes: class names.
        resolution: grid points per axis (>= 2).
        margin: extra range around the data (share of its extent).
        batch_size: forward batch size.

    Returns:
        A :class:`DecisionBoundary` result.

    Example:
        >>> from sklearn.datasets import make_moons  # doctest: +SKIP
        >>> X, y = make_moons(300, noise=0.2)  # doctest: +SKIP
        >>> db = ds.explain.decision_boundary(model, X, y, resolution=80)  # doctest: +SKIP

    """
    if resolution < 2:
        raise InvalidArgumentError(f"resolution must be >= 2, got {resolution}")
    x = X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else np.asarray(X, dtype=float)
    x = x.reshape(len(x), -1).astype(float)
    if len(x) < 2 or x.shape[1] < 2:
        raise InvalidArgumentError(f"need at least 2 points with 2 features, got {x.shape}")
    projection, origin, basis, axes = _plane(x, features, feature_names)
    pts = (x - origin) @ basis.T if projection != "features" else x[:, list(features or [])]
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = (hi - lo) * margin + 1e-9
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    result = DecisionBoundary(
        projection,
        origin,
        basis,
        xs,
        ys,
        np.zeros(0),
        np.zeros(0),
        [],
        pts,
        np.zeros(0),
        features=None if features is None else list(features),
        axis_labels=axes,
    )
    grid = result.grid_inputs().astype(np.float32)
    probs = predict_proba(model, grid, batch_size)
    result.predicted = probs.argmax(axis=1).reshape(resolution, resolution)
    result.probability = probs.max(axis=1).reshape(resolution, resolution)
    result.point_predicted = predict_proba(model, x.astype(np.float32), batch_size).argmax(axis=1)
    result.classes = class_names(classes, probs.shape[1])
    result.labels = None if y is None else as_labels(y, len(x))
    return result
