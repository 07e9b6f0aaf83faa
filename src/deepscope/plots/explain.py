"""Figures of explain results: attributions, feature importance, embeddings, maximisation,
decision boundaries. Each accepts the result or its stored artifact (``reader.artifact(id)``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import InvalidArgumentError
from deepscope.explain.artifacts import decode_png
from deepscope.explain.attribution import Attributions
from deepscope.explain.boundary import DecisionBoundary
from deepscope.explain.embedding import Embedding
from deepscope.explain.importance import FeatureImportance
from deepscope.explain.maximize import Maximization
from deepscope.plots._base import as_result, axes, class_colors, overlay


def _mosaic(tiles: Sequence[np.ndarray], cols: int, pad: int = 1) -> np.ndarray:
    h, w = tiles[0].shape[:2]
    rows = math.ceil(len(tiles) / cols)
    sheet = np.ones((rows * (h + pad) - pad, cols * (w + pad) - pad, 3))
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        sheet[r * (h + pad) : r * (h + pad) + h, c * (w + pad) : c * (w + pad) + w] = t
    return sheet


def _tabular(res: Attributions, ax: Axes | None, index: int | None) -> Figure:
    values = res.maps()
    shown = np.abs(values).mean(axis=0) if index is None else values[index]
    order = np.argsort(np.abs(shown))[::-1][:20][::-1]
    names = res.feature_names or [str(i) for i in range(values.shape[1])]
    fig, ax = axes(ax, (6.0, 0.8 + 0.25 * len(order)))
    colors = ["tab:red" if v > 0 else "tab:blue" for v in shown[order]]
    ax.barh([names[i] for i in order], shown[order], color=colors)
    what = "mean |attribution|" if index is None else f"sample {index}"
    ax.set_title(f"{res.method}: {what}")
    ax.axvline(0, color="black", linewidth=0.8)
    return fig


def _tokens(res: Attributions, ax: Axes | None, max_samples: int) -> Figure:
    from matplotlib import colormaps

    samples = res.samples[:max_samples]
    fig, ax = axes(ax, (8.0, 0.6 + 0.45 * len(samples)))
    cmap = colormaps["RdBu_r"]
    for row, s in enumerate(samples):
        scores = np.nan_to_num(np.asarray(s["scores"], dtype=float))
        scale = float(np.max(np.abs(scores))) or 1.0
        x = 0.0
        for tok, sc in zip(s["tokens"], scores, strict=True):
            ax.text(
                x,
                -row,
                tok,
                fontsize=9,
                va="center",
                family="monospace",
                bbox={"facecolor": cmap(0.5 + 0.5 * sc / scale), "edgecolor": "none", "pad": 1.5},
            )
            x += 0.75 * (len(tok) + 1)
        ax.set_xlim(-1, max(ax.get_xlim()[1], x))
    ax.set_ylim(-len(samples) + 0.5, 0.5)
    ax.set_axis_off()
    ax.set_title(f"{res.method}: token attributions")
    return fig


def plot_attributions(
    result: Any,
    *,
    opacity: float = 0.6,
    max_samples: int = 16,
    index: int | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Attributions: heat maps over the input images, feature bars, or highlighted tokens.

    Args:
        result: an :class:`Attributions` or its artifact.
        opacity: heat-map opacity over images (0 = input only, 1 = heat map only).
        max_samples: images or token rows shown.
        index: tabular: one sample's bars instead of the mean |attribution| over samples.
        ax: axes to draw into.

    Example:
        >>> plot_attributions(ds.explain.attribute(cnn, x[:8]), opacity=0.5)  # doctest: +SKIP

    """
    res = as_result(result, Attributions)
    if res.input_kind == "tabular":
        return _tabular(res, ax, index)
    if res.input_kind == "tokens":
        return _tokens(res, ax, max_samples)
    tiles = []
    for s in res.samples[:max_samples]:
        base = decode_png(res.blobs[s["input"]][1])
        heat = decode_png(res.blobs[s["heatmap"]][1])
        tiles.append(overlay(base, heat, opacity))
    cols = min(8, len(tiles))
    fig, ax = axes(ax, (1.2 * cols + 0.5, 1.3 * math.ceil(len(tiles) / cols) + 0.6))
    ax.imshow(_mosaic(tiles, cols), interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(
        f"{res.method} (targets {[s['target'] for s in res.samples[:cols]]}...)", fontsize=9
    )
    return fig


def plot_feature_importance(result: Any, *, top: int = 20, ax: Axes | None = None) -> Figure:
    """Features sorted by importance with confidence-interval error bars.

    Example:
        >>> plot_feature_importance(ds.explain.feature_importance(model, X, y))  # doctest: +SKIP

    """
    res = as_result(result, FeatureImportance)
    order = res.order[:top][::-1]
    fig, ax = axes(ax, (6.0, 0.8 + 0.25 * len(order)))
    imp = res.importance[order]
    err = np.vstack([imp - res.ci_low[order], res.ci_high[order] - imp])
    ax.barh([res.feature_names[i] for i in order], imp, xerr=err, color="tab:blue", capsize=2)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(
        f"drop in {res.metric} ({res.method}, {res.confidence:.0%} CI, {res.repeats} repeats)"
    )
    return fig


def plot_embedding(result: Any, *, highlight: int | None = None, ax: Axes | None = None) -> Figure:
    """Scatter of an embedding coloured by label; ``highlight`` marks a point and its neighbours.

    Example:
        >>> plot_embedding(ds.explain.embed(model, X, labels=y), highlight=0)  # doctest: +SKIP

    """
    res = as_result(result, Embedding)
    if ax is None and res.dims == 3:
        from matplotlib.figure import Figure as _Figure

        fig = _Figure(figsize=(6.0, 5.0), layout="constrained")
        ax = fig.add_subplot(projection="3d")
    fig, ax = axes(ax, (6.0, 5.0))
    pts = res.points
    coords = [pts[:, d] for d in range(res.dims)]
    if res.labels is None:
        ax.scatter(*coords, s=6, color="tab:gray")
    else:
        colors = class_colors(int(res.labels.max()) + 1)
        for c in np.unique(res.labels):
            m = res.labels == c
            name = res.classes[c] if res.classes else str(c)
            ax.scatter(*[k[m] for k in coords], s=6, color=colors[c], label=name)
        ax.legend(markerscale=2, fontsize="small", loc="best")
    if highlight is not None:
        nb = res.neighbors_of(highlight)
        ax.scatter(*[k[nb] for k in coords], s=40, facecolors="none", edgecolors="black")
        ax.scatter(*[k[[highlight]] for k in coords], s=80, marker="*", color="black")
    ax.set_title(f"{res.layer or 'inputs'}: {res.method} of {res.input_dim}-D activations")
    return fig


def plot_maximization(result: Any, *, ax: Axes | None = None) -> Figure:
    """Grid of synthesised inputs, one per channel, with the activation reached.

    Example:
        >>> mx = ds.explain.maximize(cnn, "conv2", input_shape=(1, 8, 8))  # doctest: +SKIP
        >>> plot_maximization(mx)  # doctest: +SKIP

    """
    res = as_result(result, Maximization)
    tiles = []
    for c in res.channels:
        img = decode_png(res.blobs[f"channel_{c}"][1]).astype(float) / 255.0
        tiles.append(np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3])
    cols = min(8, len(tiles))
    fig, ax = axes(ax, (1.2 * cols + 0.5, 1.3 * math.ceil(len(tiles) / cols) + 0.6))
    ax.imshow(_mosaic(tiles, cols), interpolation="nearest")
    ax.set_axis_off()
    gain = np.nanmedian(res.final_activation - res.start_activation)
    ax.set_title(
        f"{res.layer}: channels {res.channels[0]}..{res.channels[-1]} (median gain {gain:.2f})",
        fontsize=9,
    )
    return fig


def plot_decision_boundary(result: Any, *, ax: Axes | None = None) -> Figure:
    """Predicted class over the grid (shaded by probability) with the data points on top.

    Example:
        >>> plot_decision_boundary(ds.explain.decision_boundary(model, X, y))  # doctest: +SKIP

    """
    res = as_result(result, DecisionBoundary)
    if res.predicted.size == 0:
        raise InvalidArgumentError("this decision boundary has no grid")
    colors = np.array(class_colors(len(res.classes)))[:, :3]
    shade = colors[res.predicted] * res.probability[..., None] + (1 - res.probability[..., None])
    fig, ax = axes(ax, (6.0, 5.0))
    extent = (res.xs[0], res.xs[-1], res.ys[0], res.ys[-1])
    ax.imshow(shade, origin="lower", extent=extent, aspect="auto", interpolation="nearest")
    ax.contour(
        res.xs,
        res.ys,
        res.predicted,
        levels=np.arange(len(res.classes)) + 0.5,
        colors="k",
        linewidths=0.6,
    )
    lab = res.labels if res.labels is not None else res.point_predicted
    ax.scatter(
        res.points[:, 0], res.points[:, 1], c=colors[lab], s=10, edgecolors="black", linewidths=0.3
    )
    ax.set_xlabel(res.axis_labels[0])
    ax.set_ylabel(res.axis_labels[1])
    ax.set_title(f"decision boundary ({res.projection})")
    return fig
