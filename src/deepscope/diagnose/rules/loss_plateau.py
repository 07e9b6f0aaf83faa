"""``loss_plateau``: the training loss does not improve."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, ScalarTrendRule
from deepscope.diagnose.view import as_view
from deepscope.store.reader import RunReader


class LossPlateau(ScalarTrendRule):
    """The training loss ends where it started.

    Reads the first logged of ``train/loss``, ``train_loss``, ``loss``.
    Mechanism: the initial level (median of the first 10% of points, 1-5 points) is compared
    with the final level (median of the last 20%). The loss must improve by ``min_improvement``
    of its initial value; a loss that rises instead is ``loss_oscillation``, unless the rise is
    within ``noise_se`` standard errors of the two medians (per-batch noise: a flat loss whose
    first few batches happened to be easy). Medians make the verdict immune to minibatch noise.
    Healthy runs improve by far more (measured on the healthy scenarios: 54-100%); a learning
    rate 100x too small, a stuck symmetric init or a detached model stays within a few percent.
    Evidence: ``tag``, ``initial``, ``final``, ``improvement``, ``points``.
    Suggestion: raise the learning rate by 10x, check the init.

    Example:
        >>> LossPlateau.Params().min_improvement
        0.05

    """

    code = "loss_plateau"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            min_improvement: relative improvement (initial - final) / initial needed.
            max_rise: relative rise above which this is divergence, not a plateau...
            noise_se: ...unless the rise is within this many standard errors of the difference
                of the initial and final medians (measured: a frozen Keras MLP at lr 1e-7, per
                batch losses with 6% noise, rises 6.6% on one seed of five; 2 standard errors
                there are 8%).
            min_points: loss points needed (6: a short run logged once per epoch).

        """

        min_improvement: float = 0.05
        max_rise: float = 0.05
        noise_se: float = 2.0
        min_points: int = 6

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        found = self.train_loss(view)
        if found is None:
            return []
        tag, steps, values, initial = found
        n = len(values)
        last = trends.tail(values, 0.2, 2)
        final = trends.level(last)
        improvement = (initial - final) / abs(initial)
        if improvement >= self.params.min_improvement or improvement < -self._rise_allowed(
                values, len(last), initial):
            return []
        evidence = {"tag": tag, "initial": initial, "final": final, "improvement": improvement,
                    "points": n}
        lr = view.reader.meta().config.get("lr") if hasattr(view.reader, "meta") else None
        lr_text = f" (config lr = {lr})" if isinstance(lr, (int, float)) else ""
        message = (f"{tag} did not improve: {initial:.4g} at the start, {final:.4g} at the end "
                   f"({improvement:+.1%}) over {n} points")
        suggestion = (
            f"raise the learning rate by 10x{lr_text}; check that opt.step() is called and that "
            "the weights are not initialised symmetrically (e.g. all zeros)"
        )
        return [self.finding("warning", None, int(steps[0]), message, evidence, suggestion)]

    def _rise_allowed(self, values: np.ndarray, tail_count: int, initial: float) -> float:
        """The relative rise still taken for a plateau: ``max_rise``, or the noise of the two
        medians where the batches are noisier (a median's standard error is 1.2533 sigma /
        sqrt(n) for Gaussian noise; sigma from successive differences, which a trend barely
        moves and a rolling median would shrink).
        """
        head = trends.head_count(len(values))
        steps = np.diff(values)
        sigma = trends.noise(steps, np.zeros_like(steps)) / float(np.sqrt(2))
        se = 1.2533 * sigma * float(np.sqrt(1 / head + 1 / tail_count)) / abs(initial)
        return max(self.params.max_rise, self.params.noise_se * se)
