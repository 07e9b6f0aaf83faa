"""``loss_oscillation``: the training loss jumps around or diverges."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, ScalarTrendRule
from deepscope.diagnose.metric_names import VAL_LOSS_TAGS
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader


class LossOscillation(ScalarTrendRule):
    """The training loss diverges, gives back its progress, or keeps spiking above its start.

    Reads the recognised training-loss tag with the most points (``train/loss``, ``train_loss``,
    ``loss``); skipped on adversarial runs (a GAN's losses rise whenever the other model
    improves). Mechanism, on the finite part of the curve (a NaN loss is ``nonfinite``); ``L0`` is
    the initial level (median of the first 1-5 points) and ``noise`` the minibatch noise (robust
    spread of the points around a rolling median). Any of four signs fires:

    * diverges: the final level (median of the last 20%) exceeds ``L0`` by ``diverge``;
    * gives back: a rolling median (window 5% of the points, at least 3) rises above its running
      minimum by ``giveback`` of the progress made (``L0 - min``) and by ``min_jump`` of ``L0``;
      minibatch noise moves the rolling median far less (measured on the healthy scenarios: at
      most 19% of the progress, a noisy regression; the unstable ones 36% and more);
    * spikes: ``spike_share`` of the points of the second half (and at least two) lie above
      ``spike`` x ``L0``;
    * validation swings: the validation loss (first of ``val/loss``, ``val_loss``, ...;
      evaluated on a fixed set, so free of minibatch noise) rises above its best by the same
      ``giveback`` / ``min_jump`` margins and later falls back by half of that rise (a steady
      rise is ``overfitting``). Healthy scenarios stay below ~10% of the margin. A swing in
      the first half of the validation points of a run whose last point is its best is a
      transient it grew out of, not counted (``bench/diagnose_heldout.py``: a residual CNN
      under ``OneCycleLR`` at max lr 0.1 jumps 2.3x at the peak, then ends at its best, 98%).
      So is a later swing in such a run when its updates, relative to the weights, were
      ``decayed`` times larger at the swing (its sampled step taken at the same share of the
      run) than at the end: the same run on another CPU jumps again at the 5th of 8 validation
      points, lr still 0.08, while the schedule takes the learning rate down 25,000x.

    A rise or spike within the noise is not instability: fine-tuning a converged model gives a
    flat curve whose noise (measured: 30% of its level) makes the rolling median wander past the
    margins above while the validation loss keeps falling. "Gives back" and "spikes" therefore
    also need the rise to be ``noise_rise`` noise units, or the validation loss to have ended
    ``min_jump`` above its best as well. Measured on the runs that pass the margins above:
    healthy ones 1.6-2.5 noise units with the validation loss at its best (converged fine-tuning
    on 3 seeds, a regression on targets ~5,000); unstable ones 3.9-1,260 noise units, those
    below 8 with a validation loss 1.4-2.4x its best. Without a validation loss, a rise within
    the noise is not reported (it cannot be told from minibatch noise).

    These are the symptoms of a learning rate above the stability limit (Goodfellow et al.,
    Deep Learning, 8.5; Smith, 2017, LR range test: the loss "explodes" past the best rate).
    Evidence: ``tag``, ``initial``, ``min``, ``final``, ``giveback``, ``noise``,
    ``spike_share``, ``sign``. Suggestion: lower the learning rate by 10x and clip gradients.

    Example:
        >>> LossOscillation.Params().giveback
        0.3

    """

    code = "loss_oscillation"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            diverge: relative rise of the final level above the initial one.
            giveback: share of the progress the smoothed loss gives back.
            min_jump: that rise must also be this share of the initial level.
            spike: a point above this multiple of the initial level is a spike.
            spike_share: share of second-half points that are spikes.
            min_points: loss points needed (6: a short run logged once per epoch).
            min_val_points: validation points needed for the validation sign.
            noise_rise: a rise of this many noise units is beyond minibatch noise.
            decayed: a later validation swing of a run that ends at its best is a transient
                when the updates, relative to the weights, were this many times larger then
                than at the end (a decaying schedule took the learning rate down).

        """

        diverge: float = 0.5
        giveback: float = 0.3
        min_jump: float = 0.2
        spike: float = 1.5
        spike_share: float = 0.1
        min_points: int = 6
        min_val_points: int = 5
        noise_rise: float = 8.0
        decayed: float = 3.0

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        found = self.train_loss(view)
        if found is None:
            return []
        tag, steps, values, initial = found
        p = self.params
        n = len(values)
        final = trends.level(trends.tail(values, 0.2, 2))
        smooth = trends.rolling_median(values, max(3, n // 20))
        noise = trends.noise(values, smooth)
        low = float(np.nanmin(smooth))
        rise, i_low, _ = trends.largest_giveback(smooth)
        progress = max(initial - low, 0.0)
        beyond_noise = rise >= p.noise_rise * noise or bool(self._val_gave_back(view))
        second = values[n // 2 :]
        spikes = trends.share(second > p.spike * initial)
        signs = []
        if final > (1 + p.diverge) * initial:
            signs.append("diverges")
        if rise >= p.giveback * progress and rise >= p.min_jump * initial and beyond_noise:
            signs.append("gives back")
        if (spikes >= p.spike_share and int((second > p.spike * initial).sum()) >= 2
                and beyond_noise):
            signs.append("spikes")
        swing = self._val_swing(view, initial)
        if swing is not None:
            signs.append("validation swings")
        if not signs:
            return []
        evidence = {"tag": tag, "initial": initial, "min": low, "final": final,
                    "giveback": rise, "noise": noise, "spike_share": spikes, "sign": signs,
                    "val_swing": swing}
        message = self._message(tag, signs[0], initial, low, final, rise, spikes)
        suggestion = ("lower the learning rate by 10x and clip gradients at 1.0 "
                      "(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)); with SGD, "
                      "add a warm-up or use Adam")
        step = int(steps[i_low]) if signs[0] == "gives back" else int(steps[n // 2])
        return [self.finding("warning", None, step, message, evidence, suggestion)]

    def _val_gave_back(self, view: RunView) -> bool | None:
        """Whether the validation loss ended ``min_jump`` above its best (None: not logged)."""
        found = self.series(view, VAL_LOSS_TAGS)
        if found is None or len(found[2]) < self.params.min_val_points:
            return None
        v = found[2]
        end = trends.level(trends.tail(v, 0.2, 2))
        best = float(np.nanmin(v))
        return bool(end - best >= self.params.min_jump * abs(best))

    def _val_swing(self, view: RunView, initial: float) -> float | None:
        """A validation loss that jumps above its best and falls back (not a steady rise)."""
        found = self.series(view, VAL_LOSS_TAGS)
        if found is None or len(found[2]) < self.params.min_val_points:
            return None
        v = found[2]
        rise = v - np.minimum.accumulate(v)
        need = max(self.params.giveback * (initial - float(v.min())),
                   self.params.min_jump * initial)
        # A swing in the first half of a run that ends at its best is a transient it grew out
        # of (the peak of a schedule), not a learning rate that stays too high.
        ends_best = bool(v[-1] <= np.nanmin(v))
        grown_out = len(v) // 2 if ends_best else 0
        sizes = self._step_sizes(view) if ends_best else None
        for t in np.flatnonzero(rise >= need):
            if t < grown_out:
                continue
            at = None if sizes is None else sizes[round(t / max(len(v) - 1, 1) * (len(sizes) - 1))]
            if at is not None and at >= self.params.decayed * sizes[-1]:
                continue  # the schedule brought the step size down since, and the run recovered
            if np.any(v[t + 1 :] <= v[t] - 0.5 * rise[t]):
                return float(rise[t])
        return None

    @staticmethod
    def _step_sizes(view: RunView) -> np.ndarray | None:
        """Median ``update_ratio`` over the layers at each sampled step (None: not recorded)."""
        if not view.has("update"):
            return None
        m = view.stat_matrix("update", "update_ratio")
        if not len(m.steps) or not np.isfinite(m.values).any():
            return None
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # steps where every layer is NaN
            curve = np.nanmedian(m.values, axis=0)
        curve = curve[np.isfinite(curve)]
        return curve if len(curve) >= 3 else None

    @staticmethod
    def _message(tag, sign, initial, low, final, rise, spikes) -> str:  # noqa: ANN001
        if sign == "diverges":
            return f"{tag} diverges: {initial:.4g} at the start, {final:.4g} at the end"
        if sign == "validation swings":
            return (f"the validation loss jumps up and down while {tag} trains: the learning "
                    "rate is above the stable range")
        if sign == "gives back":
            return (f"{tag} is unstable: after reaching {low:.4g} its smoothed value rose by "
                    f"{rise:.4g} (initial {initial:.4g})")
        return (f"{tag} keeps jumping above its initial value {initial:.4g}: "
                f"{spikes:.0%} of the second half")
