"""Figures of a :class:`~deepscope.explain.predictions.Predictions` result."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import InvalidArgumentError
from deepscope.explain.artifacts import decode_png, unclean
from deepscope.explain.predictions import Predictions
from deepscope.plots._base import as_result, axes


def plot_confusion_matrix(
    result: Any, *, normalize: bool = False, ax: Axes | None = None
) -> Figure:
    """Confusion matrix (rows: true class, columns: predicted) with counts in the cells.

    Example:
        >>> plot_confusion_matrix(ds.explain.predictions(model, X, y))  # doctest: +SKIP

    """
    res = as_result(result, Predictions)
    cm = res.confusion.astype(float)
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    n = len(res.classes)
    fig, ax = axes(ax, (1.0 + 0.45 * n, 0.8 + 0.45 * n))
    ax.imshow(shown, cmap="Blues")
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                text = f"{shown[i, j]:.2f}" if normalize else str(int(cm[i, j]))
                color = "white" if shown[i, j] > shown.max() / 2 else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    ax.set_xticks(range(n), res.classes, fontsize="small", rotation=90 if n > 12 else 0)
    ax.set_yticks(range(n), res.classes, fontsize="small")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {res.accuracy:.3f} on {res.n} samples")
    return fig


def plot_calibration(result: Any, *, ax: Axes | None = None) -> Figure:
    """Reliability diagram: accuracy per confidence bin against the diagonal, with the ECE.

    Example:
        >>> plot_calibration(ds.explain.predictions(model, X, y))  # doctest: +SKIP

    """
    res = as_result(result, Predictions)
    cal = res.calibration
    edges = np.asarray(cal["edges"], dtype=float)
    acc = unclean(cal["accuracy"])
    conf = unclean(cal["confidence"])
    fig, ax = axes(ax, (5.0, 5.0))
    width = np.diff(edges)
    ax.bar(
        edges[:-1],
        np.nan_to_num(acc),
        width=width,
        align="edge",
        edgecolor="black",
        color="tab:blue",
        label="accuracy",
    )
    gap = np.nan_to_num(conf - acc)
    ax.bar(
        edges[:-1],
        gap,
        bottom=np.nan_to_num(acc),
        width=width,
        align="edge",
        color="tab:red",
        alpha=0.35,
        label="gap to confidence",
    )
    ax.plot([0, 1], [0, 1], "k--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability diagram (ECE {res.ece:.3f})")
    ax.legend(loc="upper left", fontsize="small")
    return fig


def plot_mistakes(result: Any, *, max_items: int = 16, ax: Axes | None = None) -> Figure:
    """The most confident mistakes: images when stored, else a table of index/label/prediction.

    Example:
        >>> plot_mistakes(ds.explain.predictions(model, X, y))  # doctest: +SKIP

    """
    res = as_result(result, Predictions)
    items = res.mistakes[:max_items]
    cols = min(8, max(1, len(items)))
    rows = max(1, math.ceil(len(items) / cols))
    fig, ax = axes(ax, (1.3 * cols + 0.4, 1.5 * rows + 0.5))
    ax.set_axis_off()
    if not items:
        ax.set_title("no mistakes")
        return fig
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    for k, m in enumerate(items):
        r, c = divmod(k, cols)
        true, pred = res.classes[m["label"]], res.classes[m["predicted"]]
        caption = f"#{m['index']} {true}->{pred} {m['confidence']:.2f}"
        if m.get("image") and m["image"] in res.blobs:
            img = decode_png(res.blobs[m["image"]][1])
            ax.imshow(
                img,
                cmap="gray",
                extent=(c + 0.05, c + 0.95, r + 0.8, r + 0.05),
                interpolation="nearest",
            )
        ax.text(c + 0.5, r + 0.92, caption, ha="center", va="center", fontsize=6)
    ax.set_title("most confident mistakes (true->predicted confidence)", fontsize=9)
    return fig


def plot_class_probabilities(result: Any, index: int, *, ax: Axes | None = None) -> Figure:
    """Class-probability bars of one sample (true class outlined).

    Example:
        >>> plot_class_probabilities(ds.explain.predictions(model, X, y), index=3)  # doctest: +SKIP

    """
    res = as_result(result, Predictions)
    if not 0 <= index < len(res.probabilities):
        raise InvalidArgumentError(
            f"sample {index} has no stored probabilities (0..{len(res.probabilities) - 1})"
        )
    p = res.probabilities[index]
    fig, ax = axes(ax, (max(4.0, 0.4 * len(p)), 3.0))
    colors = ["tab:green" if i == res.labels[index] else "tab:gray" for i in range(len(p))]
    colors[int(res.predicted[index])] = (
        "tab:green" if res.predicted[index] == res.labels[index] else "tab:red"
    )
    ax.bar(range(len(p)), p, color=colors)
    ax.set_xticks(range(len(p)), res.classes, fontsize="small")
    ax.set_ylim(0, 1)
    true, pred = res.classes[res.labels[index]], res.classes[res.predicted[index]]
    ax.set_title(f"sample {index}: true {true}, predicted {pred}")
    return fig
