"""Shared plotting mechanics: figure/axes creation without pyplot state, result coercion."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from deepscope.errors import InvalidArgumentError

T = TypeVar("T")


def axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.0)) -> tuple[Figure, Axes]:
    """The given axes and its figure, or a new figure (no pyplot: safe in threads and servers)."""
    if ax is not None:
        return ax.get_figure(), ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def as_result(obj: Any, cls: type[T]) -> T:
    """Accept a result of ``cls`` or a stored artifact of its kind (``reader.artifact(id)``)."""
    if isinstance(obj, cls):
        return obj
    if hasattr(obj, "info") and hasattr(obj, "data"):
        return cls.from_artifact(obj)  # type: ignore[attr-defined]
    raise InvalidArgumentError(
        f"expected a {cls.__name__} or its artifact, got {type(obj).__name__}"
    )


def overlay(base: np.ndarray, rgba: np.ndarray, opacity: float) -> np.ndarray:
    """Alpha-composite an RGBA heat map (floats in [0, 1]) over a grey or RGB image."""
    img = base.astype(float) / (255.0 if base.dtype == np.uint8 else 1.0)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    heat = rgba.astype(float) / (255.0 if rgba.dtype == np.uint8 else 1.0)
    alpha = heat[..., 3:4] * opacity
    return img[..., :3] * (1 - alpha) + heat[..., :3] * alpha


def class_colors(n: int) -> list[Any]:
    """``n`` distinguishable colours (tab10, then tab20)."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
