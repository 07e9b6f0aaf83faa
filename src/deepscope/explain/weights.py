"""Weights: conv filters as image grids, weight matrices as heat maps, per-layer spectra.

The spectrum signal follows Martin & Mahoney, "Implicit self-regularization in deep neural
networks" / "Heavy-tailed self-regularization" (2019-2021): the eigenvalues of ``W^T W / N`` of a
well-trained layer have a power-law tail with exponent ``alpha`` mostly in [2, 6]; ``alpha > 6``
suggests an under-trained layer (close to random), ``alpha < 2`` an over-fit/over-regularised one.
The tail is fitted by maximum likelihood with ``xmin`` chosen by the smallest Kolmogorov-Smirnov
distance (Clauset, Shalizi & Newman, "Power-law distributions in empirical data", 2009).

A label is given only where the fit means something (:func:`judge`): a layer with fewer
than :data:`MIN_EIGS_TO_JUDGE` eigenvalues, or whose fitted tail is shorter than
:data:`MIN_TAIL_TO_JUDGE`, is ``too_small`` to judge; a spectrum inside the Marchenko-Pastur
bulk of a random matrix with the layer's own entry variance is ``random_like`` (measured:
freshly initialised ``nn.Linear`` layers of 64x64 to 1024x1024 have a largest eigenvalue
0.91-0.99x the bulk edge, the trained layers of the demo CNN 2.6-4.2x); a fit whose KS distance
exceeds the 95% critical value ``1.36 / sqrt(n_tail)`` is ``no_power_law``. Only the remaining
layers get an alpha-based label (before, a random 64x64 layer, alpha 3.75 fitted to a 17-point
tail, read "well_trained").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.errors import InvalidArgumentError
from deepscope.explain.artifacts import PNG, Blobs, ExplainResult, clean, encode_png

_MIN_EIGS = 10  # fewer eigenvalues than this: no tail fit (alpha would be noise)
_MIN_TAIL = 5
#: Fewer eigenvalues than this: too small to judge. The MLE alpha has a standard error of
#: (alpha - 1) / sqrt(n_tail) (Clauset et al. 2009), ~0.5 for alpha 3 on a 16-point tail.
MIN_EIGS_TO_JUDGE = 50
MIN_TAIL_TO_JUDGE = 20
#: Largest eigenvalue within this factor of the Marchenko-Pastur bulk edge: random-like.
MP_EDGE_FACTOR = 1.1
QUALITIES = ("well_trained", "under_trained", "over_fit", "random_like", "no_power_law",
             "too_small")
_MAX_PIXELS = 512  # weight heat maps are block-averaged to at most 512 px on a side
ALPHA_WELL_TRAINED = (2.0, 6.0)


def fit_power_law(eigenvalues: np.ndarray) -> dict[str, Any]:
    """Power-law tail of a spectrum: ``alpha``, ``xmin``, KS distance and tail size.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> round(fit_power_law(rng.pareto(2.0, 5000) + 1.0)["alpha"], 1)
        3.0

    """
    x = np.sort(np.asarray(eigenvalues, dtype=float))
    x = x[np.isfinite(x) & (x > 0)]
    empty = {"alpha": None, "alpha_xmin": None, "alpha_ks": None, "alpha_n_tail": 0}
    if len(x) < _MIN_EIGS:
        return empty
    logs = np.log(x)
    best = None
    # Candidate xmin: every value leaving at least _MIN_TAIL points in the tail.
    for i in range(len(x) - _MIN_TAIL + 1):
        tail = logs[i:]
        s = float(np.sum(tail - logs[i]))
        if s <= 0:
            continue
        n = len(tail)
        alpha = 1.0 + n / s
        cdf_fit = 1.0 - np.exp((1.0 - alpha) * (tail - logs[i]))
        cdf_emp = np.arange(n) / n
        ks = float(np.max(np.abs(cdf_emp - cdf_fit)))
        if best is None or ks < best[0]:
            best = (ks, alpha, float(x[i]), n)
    if best is None:
        return empty
    ks, alpha, xmin, n = best
    return {
        "alpha": round(alpha, 4),
        "alpha_xmin": xmin,
        "alpha_ks": round(ks, 4),
        "alpha_n_tail": n,
    }


def quality(alpha: float) -> str:
    """``well_trained``, ``under_trained`` or ``over_fit`` from a meaningful ``alpha``."""
    lo, hi = ALPHA_WELL_TRAINED
    return "over_fit" if alpha < lo else "under_trained" if alpha > hi else "well_trained"


def mp_edge_ratio(mat: np.ndarray, eigenvalues: np.ndarray) -> float | None:
    """Largest eigenvalue of ``W^T W / N`` over the Marchenko-Pastur bulk edge of a random matrix
    of the same shape and entry variance: ~1 for a random layer, well above for a trained one.
    """
    var = float(np.var(mat))
    if not eigenvalues.size or var <= 0:
        return None
    q = min(mat.shape) / max(mat.shape)
    return float(np.max(eigenvalues) / (var * (1 + np.sqrt(q)) ** 2))


def judge(fit: dict[str, Any], n_eigs: int, edge_ratio: float | None) -> tuple[str, str]:
    """``(quality, why)`` of one layer: a label only where the spectrum can say it.

    Example:
        >>> judge({"alpha": 3.7, "alpha_ks": 0.14, "alpha_n_tail": 17}, 64, 0.91)[0]
        'too_small'
        >>> judge({"alpha": 3.2, "alpha_ks": 0.05, "alpha_n_tail": 80}, 512, 3.0)[0]
        'well_trained'

    """
    alpha, ks, n_tail = fit.get("alpha"), fit.get("alpha_ks"), int(fit.get("alpha_n_tail") or 0)
    if n_eigs < MIN_EIGS_TO_JUDGE:
        return "too_small", f"too small to judge: {n_eigs} eigenvalues (needs {MIN_EIGS_TO_JUDGE})"
    if alpha is None or n_tail < MIN_TAIL_TO_JUDGE:
        return "too_small", f"too small to judge: a {n_tail}-eigenvalue tail (needs " \
                            f"{MIN_TAIL_TO_JUDGE})"
    if edge_ratio is not None and edge_ratio <= MP_EDGE_FACTOR:
        return "random_like", (f"random-like: the largest eigenvalue is {edge_ratio:.2f}x the "
                               "random-matrix bulk edge (not trained away from its init)")
    critical = 1.36 / np.sqrt(n_tail)
    if ks is not None and ks > critical:
        return "no_power_law", (f"no power-law tail: KS distance {ks:.3f} above the 95% "
                                f"critical value {critical:.3f}")
    lo, hi = ALPHA_WELL_TRAINED
    label = quality(float(alpha))
    return label, f"alpha {alpha:.2f} ({'in' if label == 'well_trained' else 'outside'} " \
                  f"[{lo:g}, {hi:g}]) on a {n_tail}-eigenvalue tail"


def _signed_rgb(arr: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    scale = float(np.nanmax(np.abs(arr))) or 1.0
    rgb = colormaps["RdBu_r"](0.5 + 0.5 * np.nan_to_num(arr) / scale)[..., :3]
    rgb[np.isnan(arr)] = 1.0  # gaps between filters are white
    return rgb


def filter_grid(weight: np.ndarray, max_filters: int = 64, max_inputs: int = 16) -> np.ndarray:
    """Conv filters as one signed RGB image: a row per output channel, a column per input.

    Layers with one input channel (the first conv of a grey-image model) tile their filters in a
    square-ish grid instead of one tall column.

    Example:
        >>> filter_grid(np.ones((4, 2, 3, 3))).shape
        (16, 8, 3)
        >>> filter_grid(np.ones((16, 1, 3, 3))).shape
        (16, 16, 3)

    """
    w = np.asarray(weight, dtype=float)
    if w.ndim == 3:  # Conv1d: one-pixel-high filters
        w = w[:, :, None, :]
    if w.ndim != 4:
        raise InvalidArgumentError(f"filter_grid needs 3-D or 4-D conv weights, got {w.shape}")
    w = w[:max_filters, :max_inputs]
    if w.shape[1] == 1 and w.shape[0] > 1:
        cols = int(np.ceil(np.sqrt(w.shape[0])))
        rows = int(np.ceil(w.shape[0] / cols))
        pad = np.full((rows * cols - w.shape[0], 1, *w.shape[2:]), np.nan)
        w = np.concatenate([w, pad]).reshape(rows, cols, *w.shape[2:])
    o, i, kh, kw = w.shape
    grid = np.full((o * (kh + 1), i * (kw + 1)), np.nan)
    for r in range(o):
        for c in range(i):
            grid[r * (kh + 1) : r * (kh + 1) + kh, c * (kw + 1) : c * (kw + 1) + kw] = w[r, c]
    return _signed_rgb(grid)


def matrix_image(weight: np.ndarray) -> np.ndarray:
    """A weight matrix as a signed RGB heat map, block-averaged to at most 512 px a side."""
    w = np.asarray(weight, dtype=float)
    fr = max(1, int(np.ceil(w.shape[0] / _MAX_PIXELS)))
    fc = max(1, int(np.ceil(w.shape[1] / _MAX_PIXELS)))
    if fr > 1 or fc > 1:
        t = torch.as_tensor(w, dtype=torch.float32)[None, None]
        w = torch.nn.functional.avg_pool2d(t, (fr, fc), ceil_mode=True)[0, 0].numpy()
    return _signed_rgb(w)


@dataclass
class Weights(ExplainResult):
    """Pictures and spectra of a model's weight tensors, one entry per layer.

    Example:
        >>> w = ds.explain.weights(model)  # doctest: +SKIP
        >>> [(l["name"], l["alpha"], l["quality"]) for l in w.layers]  # doctest: +SKIP

    """

    kind = "weights"
    layers: list[dict[str, Any]]
    blobs: Blobs = field(default_factory=dict)

    def layer(self, name: str) -> dict[str, Any]:
        for entry in self.layers:
            if entry["name"] == name:
                return entry
        raise InvalidArgumentError(f"no layer {name!r} in this weights result")

    def _data(self) -> dict[str, Any]:
        return {"layers": self.layers}

    @classmethod
    def _from_data(cls, data: dict[str, Any], blobs: Blobs) -> Weights:
        return cls(layers=data["layers"], blobs=blobs)


def _spectrum(w: np.ndarray) -> dict[str, Any]:
    mat = w.reshape(w.shape[0], -1)
    s = np.linalg.svd(mat, compute_uv=False)
    eig = s**2 / max(mat.shape)
    fit = fit_power_law(eig)
    top = float(s[0]) if len(s) and s[0] > 0 else float("nan")
    edge = mp_edge_ratio(mat, eig)
    label, why = judge(fit, len(eig), edge)
    return {
        "singular_values": clean(s),
        **fit,
        "mp_edge_ratio": None if edge is None else round(edge, 4),
        "quality": label,
        "quality_reason": why,
        "stable_rank": clean(float(np.sum(s**2) / top**2)) if top == top else None,
    }


def _layer_entry(
    name: str, module: nn.Module, w: np.ndarray, max_filters: int
) -> tuple[dict, Blobs]:
    is_conv = isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and w.ndim in (3, 4)
    if is_conv:
        key, image_kind, img = f"filters_{name}", "filters", filter_grid(w, max_filters)
    else:
        key, image_kind, img = f"matrix_{name}", "matrix", matrix_image(w.reshape(w.shape[0], -1))
    entry = {
        "name": name,
        "type": type(module).__name__,
        "shape": list(w.shape),
        "image": key,
        "image_kind": image_kind,
        **_spectrum(w),
    }
    return entry, {key: (PNG, encode_png(img))}


def weights(
    model: nn.Module, layers: Sequence[str] | None = None, *, max_filters: int = 64
) -> Weights:
    """Filter grids, heat maps and singular-value spectra of every weight matrix of ``model``.

    Args:
        model: a ``torch.nn.Module``.
        layers: module names to include (default: every module with a >= 2-D ``weight``).
        max_filters: conv output channels shown per grid.

    Returns:
        A :class:`Weights` result.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> run.log_artifact(ds.explain.weights(model))  # doctest: +SKIP

    """
    if not isinstance(model, nn.Module):
        raise InvalidArgumentError(f"weights needs a torch.nn.Module, got {type(model).__name__}")
    wanted = None if layers is None else set(layers)
    entries, blobs = [], {}
    for name, module in model.named_modules():
        w = getattr(module, "weight", None)
        if not isinstance(w, torch.Tensor) or w.dim() < 2:
            continue
        name = name or "<root>"  # a bare layer passed as the model
        if wanted is not None and name not in wanted:
            continue
        arr = w.detach().float().cpu().numpy()
        if not np.all(np.isfinite(arr)):
            raise InvalidArgumentError(f"layer {name!r} has NaN/Inf weights")
        entry, b = _layer_entry(name, module, arr, max_filters)
        entries.append(entry)
        blobs.update(b)
    if wanted is not None and len(entries) < len(wanted):
        missing = sorted(wanted - {e["name"] for e in entries})
        raise InvalidArgumentError(f"no weight matrix in layers {missing}")
    if not entries:
        raise InvalidArgumentError("the model has no weight matrices to show")
    return Weights(entries, blobs)
