"""Small, NaN-aware statistics over sampled steps shared by the rules.

Rules judge trends: a level is a median over a window, a condition must hold for a share of the
sampled steps, and a rise is measured on a rolling median so one noisy step never fires a rule.
"""

from __future__ import annotations

import numpy as np


def head_count(n: int, frac: float = 0.1, lo: int = 1, hi: int = 5) -> int:
    """How many leading points make the "initial" level: ``frac`` of ``n``, within ``[lo, hi]``.

    Example:
        >>> head_count(100), head_count(8)
        (5, 1)

    """
    return int(min(max(lo, int(n * frac)), hi, max(n, 1)))


def level(values: np.ndarray) -> float:
    """Median of the finite values (NaN when there are none).

    Example:
        >>> level(np.array([1.0, np.nan, 3.0, 100.0]))
        3.0

    """
    v = values[np.isfinite(values)]
    return float(np.median(v)) if len(v) else float("nan")


def tail(values: np.ndarray, frac: float, minimum: int = 1) -> np.ndarray:
    """The last ``frac`` of ``values`` (at least ``minimum`` points).

    Example:
        >>> tail(np.arange(10.0), 0.2).tolist()
        [8.0, 9.0]

    """
    k = max(minimum, int(round(len(values) * frac)))
    return values[-k:] if k else values[:0]


def share(mask: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Share of True in ``mask`` among ``valid`` entries (0 when none is valid).

    Example:
        >>> share(np.array([True, False, True, True]))
        0.75

    """
    if valid is not None:
        mask = mask[valid]
    return float(mask.mean()) if len(mask) else 0.0


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centred rolling median (edges use the available points); ``window`` is made odd.

    Example:
        >>> rolling_median(np.array([1.0, 9.0, 1.0, 1.0, 1.0]), 3).tolist()
        [5.0, 1.0, 1.0, 1.0, 1.0]

    """
    n = len(values)
    w = max(1, int(window) | 1)
    if w == 1 or n == 0:
        return values.astype(float)
    half = w // 2
    padded = np.pad(values.astype(float), half, mode="constant", constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, w)
    if n > 2 * w:
        # Interior windows hold no padding: np.median is ~20x faster than nanmedian.
        out = np.empty(n)
        out[half : n - half] = np.median(windows[half : n - half], axis=1)
        out[:half] = np.nanmedian(windows[:half], axis=1)
        out[n - half :] = np.nanmedian(windows[n - half :], axis=1)
        return out
    return np.nanmedian(windows, axis=1)


def condense(steps: np.ndarray, values: np.ndarray, max_points: int = 1000) -> tuple[
    np.ndarray, np.ndarray
]:
    """Block medians of a long series (at most ``max_points`` blocks; short series unchanged).

    A 10,000-step loss logged every step keeps its trend and loses only minibatch noise, and
    every curve rule costs the same on any run length.

    Example:
        >>> s, v = condense(np.arange(10), np.arange(10.0), 5)
        >>> s.tolist(), v.tolist()
        ([0, 2, 4, 6, 8], [0.5, 2.5, 4.5, 6.5, 8.5])

    """
    n = len(values)
    if n <= max_points:
        return steps, values
    size = -(-n // max_points)
    m = n // size * size
    v = np.median(values[:m].reshape(-1, size), axis=1)
    s = steps[:m].reshape(-1, size)[:, 0]
    if m < n:
        v = np.append(v, np.median(values[m:]))
        s = np.append(s, steps[m])
    return s, v


def largest_giveback(values: np.ndarray) -> tuple[float, int, int]:
    """Largest rise above an earlier minimum: ``(rise, index of that minimum, index of the peak)``.

    Example:
        >>> largest_giveback(np.array([5.0, 1.0, 4.0, 2.0]))
        (3.0, 1, 2)

    """
    finite = np.isfinite(values)
    if not finite.any():
        return 0.0, 0, 0
    v = np.where(finite, values, np.nan)
    run_min = np.fmin.accumulate(v)
    rise = np.where(finite, v - run_min, -np.inf)
    peak = int(np.argmax(rise))
    low = int(np.flatnonzero(v[: peak + 1] == run_min[peak])[0])
    return float(rise[peak]), low, peak


def first_persistent(mask: np.ndarray, min_share: float = 0.8) -> int | None:
    """First index from which ``mask`` holds for at least ``min_share`` of the remaining points.

    Example:
        >>> first_persistent(np.array([False, True, False, True, True, True]))
        1

    """
    n = len(mask)
    if n == 0:
        return None
    # Suffix shares computed at once: share of True in mask[i:] for every i.
    suffix = np.cumsum(mask[::-1].astype(float))[::-1] / np.arange(n, 0, -1)
    ok = np.flatnonzero(mask & (suffix >= min_share))
    return int(ok[0]) if len(ok) else None


def noise(values: np.ndarray, smooth: np.ndarray) -> float:
    """Robust spread of ``values`` around their smoothed curve (1.4826 x median absolute
    deviation of the residuals: the standard deviation for Gaussian noise).

    Example:
        >>> v = np.array([1.0, 1.2, 0.8, 1.0, 1.2, 0.8])
        >>> round(noise(v, np.ones(6)), 3)
        0.297

    """
    r = (values - smooth)[np.isfinite(values - smooth)]
    if not len(r):
        return 0.0
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def rms(norm: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Root mean square from a norm and an element count (NaN where count is 0 or missing).

    Example:
        >>> rms(np.array([2.0, 3.0]), np.array([4.0, 0.0])).tolist()
        [1.0, nan]

    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, norm / np.sqrt(count), np.nan)
