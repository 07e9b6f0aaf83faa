"""Figures of run data read through a :class:`~deepscope.store.reader.RunReader`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from deepscope.errors import InvalidArgumentError, NotRecordedError
from deepscope.plots._base import axes
from deepscope.store.reader import RunReader


def plot_scalars(
    reader: RunReader, tags: str | Sequence[str], *, max_points: int = 2000, ax: Axes | None = None
) -> Figure:
    """Scalar curves (e.g. ``train/loss`` and ``val/loss``) over steps.

    Example:
        >>> with ds.open_run(path) as r:  # doctest: +SKIP
        ...     plot_scalars(r, ["train/loss", "val/loss"]).savefig("loss.png")

    """
    tags = [tags] if isinstance(tags, str) else list(tags)
    if not tags:
        raise InvalidArgumentError("give at least one scalar tag")
    fig, ax = axes(ax)
    for tag in tags:
        s = reader.scalars(tag, max_points=max_points)
        ax.plot(s.steps, s.values, label=tag, linewidth=1.2)
    ax.set_xlabel("step")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def plot_layer_heatmap(
    reader: RunReader,
    kind: str,
    field: str,
    *,
    max_steps: int = 500,
    log: bool = True,
    ax: Axes | None = None,
) -> Figure:
    """One statistic for every layer over steps as a heat map (layers in forward order).

    Example:
        >>> plot_layer_heatmap(reader, "grad", "norm")  # doctest: +SKIP

    """
    m = reader.stat_matrix(kind, field, max_steps=max_steps)
    values = np.asarray(m.values, dtype=float)
    if values.size == 0:
        raise NotRecordedError(f"no {kind} statistics in this run")
    fig, ax = axes(ax, (7.0, 0.6 + 0.28 * len(m.layers)))
    positive = values[np.isfinite(values) & (values > 0)]
    norm = (
        LogNorm(positive.min(), positive.max())
        if log and positive.size and positive.min() < positive.max()
        else None
    )
    shown = np.where(values > 0, values, np.nan) if norm is not None else values
    steps = m.steps if len(m.steps) else np.arange(values.shape[1])
    extent = (float(steps[0]) - 0.5, float(steps[-1]) + 0.5, len(m.layers) - 0.5, -0.5)
    im = ax.imshow(
        shown, aspect="auto", interpolation="nearest", cmap="viridis", norm=norm, extent=extent
    )
    ax.set_yticks(range(len(m.layers)), m.layers, fontsize="small")
    ax.set_xlabel("step")
    ax.set_title(f"{kind} {field}")
    fig.colorbar(im, ax=ax)
    return fig


def plot_gradient_flow(
    reader: RunReader, step: int | None = None, *, ax: Axes | None = None
) -> Figure:
    """Gradient norm (and max |gradient|) per layer at one step: vanishing/exploding at a glance.

    Args:
        reader: the run.
        step: a sampled step (default: the last one with gradient statistics).
        ax: axes to draw into.

    Example:
        >>> plot_gradient_flow(reader, step=100)  # doctest: +SKIP

    """
    norms = reader.stat_matrix("grad", "norm")
    if len(norms.steps) == 0:
        raise NotRecordedError(
            "no gradient statistics in this run (watch the model and call backward)"
        )
    col = len(norms.steps) - 1 if step is None else _column(norms.steps, step)
    maxes = reader.stat_matrix("grad", "max", layers=norms.layers)
    mins = reader.stat_matrix("grad", "min", layers=norms.layers)
    peak = np.fmax(np.abs(maxes.values[:, col]), np.abs(mins.values[:, col]))
    fig, ax = axes(ax, (max(6.0, 0.35 * len(norms.layers)), 4.0))
    x = np.arange(len(norms.layers))
    ax.bar(x, norms.values[:, col], color="tab:blue", label="norm")
    ax.plot(x, peak, "o", color="tab:red", label="max |grad|")
    ax.set_yscale("log")
    ax.set_xticks(x, norms.layers, rotation=60, ha="right", fontsize="small")
    ax.set_title(f"gradient flow at step {int(norms.steps[col])}")
    ax.legend(fontsize="small")
    return fig


def _column(steps: np.ndarray, step: int) -> int:
    hits = np.flatnonzero(steps == step)
    if not hits.size:
        raise NotRecordedError(
            f"step {step} has no statistics; sampled steps are {steps[:5].tolist()}..."
        )
    return int(hits[0])


def plot_histograms(
    reader: RunReader,
    layer: str,
    kind: str,
    *,
    bins: int = 64,
    max_steps: int = 200,
    ax: Axes | None = None,
) -> Figure:
    """Value distributions of one layer over steps as an image (step x value, colour = count).

    Example:
        >>> plot_histograms(reader, "fc1", "weight")  # doctest: +SKIP

    """
    h = reader.histograms(layer, kind, max_steps=max_steps)
    if len(h.steps) == 0:
        raise NotRecordedError(f"no {kind} histograms for {layer!r}")
    lo, hi = float(np.nanmin(h.lo)), float(np.nanmax(h.hi))
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    image = np.zeros((bins, len(h.steps)))
    for j in range(len(h.steps)):
        k = h.counts.shape[1]
        centers = np.linspace(h.lo[j], h.hi[j], k + 1)
        centers = (centers[:-1] + centers[1:]) / 2
        image[:, j] = np.histogram(centers, bins=edges, weights=h.counts[j])[0]
    fig, ax = axes(ax)
    extent = (float(h.steps[0]), float(h.steps[-1]) + 1, lo, hi)
    im = ax.imshow(np.log1p(image), origin="lower", aspect="auto", extent=extent, cmap="magma")
    ax.set_xlabel("step")
    ax.set_ylabel("value")
    ax.set_title(f"{layer} {kind}")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    return fig
