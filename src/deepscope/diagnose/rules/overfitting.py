"""``overfitting``: validation loss rises while training loss falls."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, ScalarTrendRule
from deepscope.diagnose.metric_names import TRAIN_LOSS_TAGS, VAL_LOSS_TAGS
from deepscope.diagnose.view import as_view
from deepscope.store.reader import RunReader


class Overfitting(ScalarTrendRule):
    """The validation loss turns up and keeps rising while the training loss keeps falling.

    Reads the first logged of ``val/loss``, ``val_loss``, ``valid/loss``, ``validation/loss``,
    ``eval/loss``, ``test/loss`` and of ``train/loss``, ``train_loss``, ``loss``.
    Mechanism: the validation curve is smoothed with a rolling median of 3; from its minimum to
    the end (median of the last fifth) it must rise by ``rise`` of the minimum *and* by
    ``share_of_progress`` of the improvement made before the minimum (so a 0.08 -> 0.10 wiggle
    after a 2.3 -> 0.08 descent is not overfitting) *and* by ``noise`` times the median
    point-to-point change of the validation curve, while the training loss, over the same
    steps, falls by ``train_drop``. This is the early-stopping criterion of Prechelt (1998,
    "Early Stopping — But When?") with a generalisation-loss threshold. Evidence: the tags,
    ``val_min`` and its step, ``val_end``, ``train_at_val_min``, ``train_end``.
    Suggestion: early stopping at the best step, weight decay, dropout or more data.

    Example:
        >>> Overfitting.Params().rise
        0.25

    """

    code = "overfitting"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            rise: relative rise of the validation loss above its minimum.
            share_of_progress: rise as a share of (initial - minimum) validation loss.
            train_drop: relative fall of the training loss over the same steps.
            noise: the rise must also exceed this multiple of the median step-to-step change
                of the validation loss (a noisy curve wanders without overfitting).
            min_points: validation points needed.

        """

        rise: float = 0.25
        share_of_progress: float = 0.1
        noise: float = 2.0
        train_drop: float = 0.1
        min_points: int = 5

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        val = self.series(view, VAL_LOSS_TAGS)
        train = self.series(view, TRAIN_LOSS_TAGS)
        if val is None or train is None or len(val[1]) < self.params.min_points:
            return []
        vtag, vs, vv = val
        ttag, ts, tv = train
        if len(tv) < 2:
            return []
        ts = _common_axis(ts, vs)
        smooth = trends.rolling_median(vv, 3)
        k = max(2, len(vv) // 5)
        i_min = int(np.argmin(smooth[:-k])) if len(vv) > k else 0
        vmin, v0 = float(smooth[i_min]), float(vv[0])
        vend = trends.level(vv[-k:])
        tail_ok = bool(np.all(smooth[-k:] > vmin))
        lo = vs[i_min - 1] if i_min > 0 else vs[i_min] - 1
        t_at = _train_at(ts, tv, lo, vs[i_min])
        tend = trends.level(trends.tail(tv, 0.1, 1))
        p = self.params
        noise = float(np.median(np.abs(np.diff(vv))))
        rising = vmin > 0 and vend - vmin >= max(p.rise * vmin, p.noise * noise)
        big = vend - vmin >= p.share_of_progress * max(v0 - vmin, 0.0)
        falling = t_at > 0 and tend <= (1 - p.train_drop) * t_at
        if not (rising and big and falling and tail_ok):
            return []
        step = int(vs[i_min])
        evidence = {
            "train_tag": ttag, "val_tag": vtag, "val_min": vmin, "val_min_step": step,
            "val_end": vend, "train_at_val_min": t_at, "train_end": tend,
        }
        message = (f"{vtag} rose from {vmin:.3g} (step {step}) to {vend:.3g} while {ttag} fell "
                   f"from {t_at:.3g} to {tend:.3g}")
        suggestion = (
            f"stop early at step {step} (best {vtag}), add weight decay (e.g. 1e-4) or dropout, "
            "reduce the model size, or use more data / augmentation"
        )
        return [self.finding("warning", None, step, message, evidence, suggestion)]


def _train_at(ts: np.ndarray, tv: np.ndarray, lo: int, hi: int) -> float:
    """Training-loss level over the validation interval ``(lo, hi]`` (else the last value)."""
    window = tv[(ts > lo) & (ts <= hi)]
    if len(window):
        return trends.level(window)
    before = np.flatnonzero(ts <= hi)
    return float(tv[before[-1]] if len(before) else tv[0])


def _common_axis(ts: np.ndarray, vs: np.ndarray) -> np.ndarray:
    """Training steps on the validation axis when the two were logged on different ones.

    A training loss logged per batch (global step) and a validation loss logged per epoch
    (epoch number) cover the same run: the training steps are rescaled onto the epoch range.
    """
    if len(vs) and len(ts) and vs[-1] > 0 and ts[-1] > 5 * vs[-1]:
        return (ts * (vs[-1] / ts[-1])).astype(float)
    return ts
