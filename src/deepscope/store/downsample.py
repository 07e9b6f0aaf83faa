"""Deterministic min/max-preserving downsampling (M4-style) for series of any length."""

from __future__ import annotations

import numpy as np


def minmax_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep the first, the last and, per bucket, the
    minimum and maximum value (NaN-safe), in ascending order.

    Example:
        >>> import numpy as np
        >>> v = np.array([0.0, 5.0, 1.0, 1.0, -3.0, 1.0, 2.0, 2.0])
        >>> minmax_indices(v, 4).tolist()
        [0, 1, 4, 7]

    """
    n = len(values)
    if max_points is None or n <= max_points:
        return np.arange(n)
    if max_points < 4:
        return np.unique(np.linspace(0, n - 1, max(max_points, 1)).round().astype(np.int64))
    # Equal-width buckets as one reshape, plus the remainder as a last bucket: vectorised argmin /
    # argmax whatever n is (1M points: a few ms). Two points per bucket plus first and last.
    buckets = max(1, (max_points - 4) // 2)
    inner = values[1 : n - 1]
    width = max(1, len(inner) // buckets)
    used = min(len(inner), width * buckets) // width * width
    # NaN would win every argmin/argmax: mask it, but only when there is one (a sum is one pass
    # without a temporary; the masks are two).
    if np.isnan(inner.sum()):
        lo_src = np.where(np.isnan(inner), np.inf, inner)
        hi_src = np.where(np.isnan(inner), -np.inf, inner)
    else:
        lo_src = hi_src = inner
    picks = [np.array([0, n - 1], dtype=np.int64)]
    if used:
        base = np.arange(used // width) * width + 1
        picks.append(base + lo_src[:used].reshape(-1, width).argmin(axis=1))
        picks.append(base + hi_src[:used].reshape(-1, width).argmax(axis=1))
    if used < len(inner):
        picks.append(
            np.array(
                [used + 1 + int(lo_src[used:].argmin()), used + 1 + int(hi_src[used:].argmax())]
            )
        )
    return _sorted_unique(np.concatenate(picks))


def _sorted_unique(idx: np.ndarray) -> np.ndarray:
    # np.unique's first call imports a numpy submodule (~50 ms in a fresh process): not here.
    idx = np.sort(idx)
    return idx[np.concatenate(([True], idx[1:] != idx[:-1]))] if len(idx) else idx


def thin_indices(n: int, max_points: int | None) -> np.ndarray:
    """Evenly spaced indices keeping first and last (for histograms and matrices)."""
    if max_points is None or n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max(max_points, 2)).round().astype(np.int64))
