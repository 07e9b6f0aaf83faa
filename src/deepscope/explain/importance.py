"""Feature importance for tabular models: permutation and ablation, with confidence intervals.

Permutation importance (Breiman 2001; Fisher, Rudin & Dominici 2019): the drop of a metric when
one column is shuffled, repeated with different shuffles. Ablation: the drop when one column is
replaced by a baseline value (its mean by default), repeated on bootstrap resamples of the rows.
Confidence intervals are Student-t intervals of the mean over repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from deepscope.errors import InvalidArgumentError
from deepscope.explain._model import as_labels, forward_batches, to_probabilities
from deepscope.explain.artifacts import Blobs, ExplainResult, clean, unclean

IMPORTANCE_METHODS = ("permutation", "ablation")


def _accuracy(outputs: torch.Tensor, y: np.ndarray) -> float:
    return float(np.mean(to_probabilities(outputs).argmax(axis=1) == y))


def _neg_mse(outputs: torch.Tensor, y: np.ndarray) -> float:
    pred = outputs.reshape(len(outputs), -1).numpy()
    target = np.asarray(y, dtype=float).reshape(len(y), -1)
    return -float(np.mean((pred - target) ** 2))


def _r2(outputs: torch.Tensor, y: np.ndarray) -> float:
    pred = outputs.reshape(len(outputs), -1).numpy()
    target = np.asarray(y, dtype=float).reshape(len(y), -1)
    ss_res = float(np.sum((pred - target) ** 2))
    ss_tot = float(np.sum((target - target.mean(axis=0)) ** 2)) or 1.0
    return 1.0 - ss_res / ss_tot


#: Built-in metrics (higher is better): name -> f(model outputs on CPU, targets) -> float.
METRICS: dict[str, Callable[[torch.Tensor, np.ndarray], float]] = {
    "accuracy": _accuracy,
    "neg_mse": _neg_mse,
    "r2": _r2,
}


@dataclass
class FeatureImportance(ExplainResult):
    """Importance (metric drop) per feature with a confidence interval.

    Example:
        >>> fi = ds.explain.feature_importance(model, X, y, repeats=10)  # doctest: +SKIP
        >>> [fi.feature_names[i] for i in fi.order[:3]]  # doctest: +SKIP

    """

    kind = "feature_importance"
    method: str
    metric: str
    baseline_score: float
    feature_names: list[str]
    importance: np.ndarray
    std: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    repeats: int
    confidence: float = 0.95
    blobs: Blobs = field(default_factory=dict)

    @property
    def order(self) -> list[int]:
        """Feature indices, most important first."""
        return [
            int(i) for i in np.argsort(-np.nan_to_num(self.importance, nan=-np.inf), kind="stable")
        ]

    def _data(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "metric": self.metric,
            "baseline_score": clean(self.baseline_score),
            "repeats": self.repeats,
            "confidence": self.confidence,
            "feature_names": self.feature_names,
            "importance": clean(self.importance),
            "std": clean(self.std),
            "ci_low": clean(self.ci_low),
            "ci_high": clean(self.ci_high),
            "order": self.order,
        }

    @classmethod
    def _from_data(cls, data: dict[str, Any], blobs: Blobs) -> FeatureImportance:
        return cls(
            method=data["method"],
            metric=data["metric"],
            baseline_score=float(unclean(data["baseline_score"])),
            feature_names=data["feature_names"],
            importance=unclean(data["importance"]),
            std=unclean(data["std"]),
            ci_low=unclean(data["ci_low"]),
            ci_high=unclean(data["ci_high"]),
            repeats=int(data["repeats"]),
            confidence=float(data.get("confidence", 0.95)),
            blobs=blobs,
        )


def _metric(metric: str | Callable) -> tuple[str, Callable]:
    if callable(metric):
        return getattr(metric, "__name__", "custom"), metric
    if metric not in METRICS:
        raise InvalidArgumentError(
            f"unknown metric {metric!r}; choose from {sorted(METRICS)} or pass a callable"
        )
    return metric, METRICS[metric]


def _drops(
    score: Callable[[torch.Tensor, np.ndarray], float],
    x: torch.Tensor,
    y: np.ndarray,
    method: str,
    repeats: int,
    rng: np.random.Generator,
    baseline: torch.Tensor,
) -> np.ndarray:
    n, f = x.shape
    drops = np.zeros((repeats, f))
    for r in range(repeats):
        rows = np.arange(n) if method == "permutation" else rng.integers(0, n, n)
        xr, yr = x[rows], y[rows]
        ref = score(xr, yr)
        for j in range(f):
            xp = xr.clone()
            if method == "permutation":
                xp[:, j] = xr[torch.as_tensor(rng.permutation(n)), j]
            else:
                xp[:, j] = baseline[j]
            drops[r, j] = ref - score(xp, yr)
    return drops


def feature_importance(
    model: Any,
    X: Any,
    y: Any,
    *,
    method: str = "permutation",
    metric: str | Callable[[torch.Tensor, np.ndarray], float] = "accuracy",
    repeats: int = 10,
    feature_names: Sequence[str] | None = None,
    baseline: Any = None,
    confidence: float = 0.95,
    random_state: int = 0,
    batch_size: int = 4096,
) -> FeatureImportance:
    """How much the metric drops when each feature is permuted (or ablated).

    Args:
        model: a model taking ``N x F`` float rows.
        X: ``N x F`` features.
        y: targets (class indices for ``accuracy``).
        method: ``permutation`` or ``ablation``.
        metric: ``accuracy``, ``neg_mse``, ``r2`` or ``f(outputs, y) -> float`` (higher = better).
        repeats: shuffles (permutation) or bootstrap resamples (ablation), >= 2.
        feature_names: column names.
        baseline: ablation values per feature (default: the column means).
        confidence: level of the Student-t interval.
        random_state: seed.
        batch_size: forward batch size.

    Returns:
        A :class:`FeatureImportance` result.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> fi = ds.explain.feature_importance(model, X_val, y_val, repeats=20)  # doctest: +SKIP
        >>> run.log_artifact(fi)  # doctest: +SKIP

    """
    if method not in IMPORTANCE_METHODS:
        raise InvalidArgumentError(f"unknown method {method!r}; choose from {IMPORTANCE_METHODS}")
    if repeats < 2:
        raise InvalidArgumentError(f"repeats must be >= 2 for a confidence interval, got {repeats}")
    x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    if x.dim() != 2 or len(x) < 2:
        raise InvalidArgumentError(
            f"X must be N x F tabular data with N >= 2, got {tuple(x.shape)}"
        )
    yy = np.asarray(y)
    if len(yy) != len(x):
        raise InvalidArgumentError(f"y has {len(yy)} entries for {len(x)} rows")
    name, fn = _metric(metric)
    if name == "accuracy":
        yy = as_labels(yy, len(x))
    names = (
        list(feature_names) if feature_names is not None else [f"f{i}" for i in range(x.shape[1])]
    )
    if len(names) != x.shape[1]:
        raise InvalidArgumentError(f"{len(names)} feature names for {x.shape[1]} features")
    base = (
        x.mean(dim=0)
        if baseline is None
        else torch.as_tensor(np.asarray(baseline), dtype=torch.float32)
    )

    def score(xs: torch.Tensor, ys: np.ndarray) -> float:
        return float(fn(forward_batches(model, xs, batch_size), ys))

    drops = _drops(score, x, yy, method, repeats, np.random.default_rng(random_state), base)
    from scipy import stats

    mean, std = drops.mean(axis=0), drops.std(axis=0, ddof=1)
    half = stats.t.ppf(0.5 + confidence / 2, repeats - 1) * std / np.sqrt(repeats)
    return FeatureImportance(
        method, name, score(x, yy), names, mean, std, mean - half, mean + half, repeats, confidence
    )
