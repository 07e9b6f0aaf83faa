"""Figures of a :class:`~deepscope.explain.weights.Weights` result: filters, matrices, spectra."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.explain.artifacts import decode_png
from deepscope.explain.weights import ALPHA_WELL_TRAINED, Weights
from deepscope.plots._base import as_result, axes


def _image(result: Any, layer: str, ax: Axes | None) -> Figure:
    res = as_result(result, Weights)
    entry = res.layer(layer)
    img = decode_png(res.blobs[entry["image"]][1])
    fig, ax = axes(ax, (6.0, 5.0))
    ax.imshow(
        img, interpolation="nearest", aspect="auto" if entry["image_kind"] == "matrix" else "equal"
    )
    ax.set_title(f"{layer} {entry['type']} {tuple(entry['shape'])}", fontsize=9)
    if entry["image_kind"] == "filters":
        ax.set_axis_off()
    else:
        ax.set_xlabel("input")
        ax.set_ylabel("output")
    return fig


def plot_filters(result: Any, layer: str, *, ax: Axes | None = None) -> Figure:
    """Conv filters of one layer as a grid (row = output channel, column = input channel).

    Example:
        >>> plot_filters(ds.explain.weights(cnn), "conv1")  # doctest: +SKIP

    """
    return _image(result, layer, ax)


def plot_weight_matrix(result: Any, layer: str, *, ax: Axes | None = None) -> Figure:
    """A weight matrix as a signed heat map (red positive, blue negative).

    Example:
        >>> plot_weight_matrix(ds.explain.weights(mlp), "fc1")  # doctest: +SKIP

    """
    return _image(result, layer, ax)


def plot_spectrum(result: Any, layer: str | None = None, *, ax: Axes | None = None) -> Figure:
    """Eigenvalue spectra (log-log survival curves) with the fitted power-law tail and alpha.

    Args:
        result: a :class:`Weights` result or its artifact.
        layer: one layer (default: every layer with a spectrum).
        ax: axes to draw into.

    Example:
        >>> plot_spectrum(ds.explain.weights(model))  # doctest: +SKIP

    """
    res = as_result(result, Weights)
    entries = [res.layer(layer)] if layer is not None else res.layers
    fig, ax = axes(ax, (6.0, 4.5))
    lo, hi = ALPHA_WELL_TRAINED
    for e in entries:
        s = np.asarray(e["singular_values"], dtype=float)
        eig = np.sort(s**2 / max(e["shape"][0], int(np.prod(e["shape"][1:]))))[::-1]
        eig = eig[eig > 0]
        if not len(eig):
            continue
        survival = np.arange(1, len(eig) + 1) / len(eig)
        alpha = e.get("alpha")
        # The label says what the spectrum can support (older artifacts have no quality reason).
        verdict = str(e.get("quality", "")).replace("_", " ")
        label = (
            f"{e['name']} alpha={alpha:.2f} ({verdict})"
            if alpha is not None
            else f"{e['name']} (too small to judge)"
        )
        (line,) = ax.loglog(eig, survival, ".", markersize=3, label=label)
        if alpha is not None and e.get("alpha_xmin"):
            xmin = float(e["alpha_xmin"])
            xs = np.geomspace(xmin, eig.max(), 20)
            frac = e["alpha_n_tail"] / len(eig)
            ax.loglog(
                xs, frac * (xs / xmin) ** (1 - alpha), "-", color=line.get_color(), linewidth=1
            )
    ax.set_xlabel("eigenvalue of W^T W / N")
    ax.set_ylabel("share of eigenvalues >= x")
    ax.set_title(f"weight spectra (well trained: {lo:g} <= alpha <= {hi:g})")
    ax.legend(fontsize="x-small")
    return fig
