"""``no_generalization``: validation stays at chance level while the training loss falls."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, ScalarTrendRule
from deepscope.diagnose.metric_names import TRAIN_ACC_TAGS, VAL_ACC_TAGS, VAL_LOSS_TAGS
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader


class NoGeneralization(ScalarTrendRule):
    """The model memorises its training set but never beats chance on validation data.

    Reads the recognised training-loss and validation-loss tags with the most points (else the
    validation and training accuracy). The untrained model's training loss, ``L0`` (median of
    the first 1-5 points), is the chance level. Fires when

    * the best validation loss (rolling median of 3) stays between ``chance_low`` and
      ``chance_high`` x ``L0``: it never got much better than chance, and the training loss did
      not start far below it (a fine-tuned model whose training loss starts at 0.008 against a
      validation loss of 0.11 shows no chance level);
    * while the training loss (median of the last 20%) fell by ``train_drop`` of ``L0``.

    Without a validation loss, the validation accuracy must stay within ``acc_band`` of the
    initial training accuracy while the training accuracy rises by ``acc_gain``. Random or
    misaligned labels (a shuffle applied to inputs but not labels, an off-by-one in a collate
    function) do this: the network memorises noise. Measured: healthy scenarios reach a best
    validation loss of at most 0.55 x ``L0`` (fine-tuning aside, which starts 13x below it);
    shuffled, random and off-by-one labels give 0.95-1.3 x ``L0`` with training losses 65-99%
    down. Distinct from ``overfitting`` (validation improved, then rose), which is reported as its
    symptom here. Evidence: ``train_tag``, ``val_tag``, ``chance_level``, ``val_best``,
    ``val_end``, ``train_end``, ``val_acc_best``. Suggestion: check label alignment by overfitting
    10 examples.

    Example:
        >>> NoGeneralization.Params().train_drop
        0.3

    """

    code = "no_generalization"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            chance_low: the best validation loss stays above this share of the chance level.
            chance_high: ... and below this multiple of it.
            train_drop: relative fall of the training loss needed.
            acc_band: largest rise of validation accuracy above the initial training accuracy.
            acc_gain: rise of the training accuracy needed (accuracy-only runs).
            min_points: training-loss points needed.
            min_val_points: validation points needed.

        """

        chance_low: float = 0.95
        chance_high: float = 1.5
        train_drop: float = 0.3
        acc_band: float = 0.1
        acc_gain: float = 0.3
        min_points: int = 6
        min_val_points: int = 4

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        found = self.train_loss(view)
        val = self.series(view, VAL_LOSS_TAGS)
        if found is not None and val is not None and len(val[2]) >= self.params.min_val_points:
            return self._by_loss(view, found, val)
        return self._by_accuracy(view)

    def _by_loss(self, view: RunView, found, val) -> list[Finding]:  # noqa: ANN001
        p = self.params
        ttag, _, tv, initial = found
        chance = max(float(tv[0]), initial)  # the untrained model (a noisy first batch: median)
        vtag, vs, vv = val
        best = float(np.nanmin(vv))
        train_end = trends.level(trends.tail(tv, 0.2, 2))
        lo, hi = p.chance_low, p.chance_high
        if not (lo * chance <= best <= hi * chance and train_end <= (1 - p.train_drop) * chance):
            return []
        acc = self.series(view, VAL_ACC_TAGS)
        evidence = {"train_tag": ttag, "val_tag": vtag, "chance_level": chance,
                    "val_best": best, "val_end": trends.level(trends.tail(vv, 0.2, 2)),
                    "train_end": train_end,
                    "val_acc_best": float(np.nanmax(acc[2])) if acc is not None else None}
        message = (f"{vtag} never got below {best:.3g}, the chance level ({ttag} of the untrained "
                   f"model: {chance:.3g}), while {ttag} fell to {train_end:.3g}: the model "
                   "memorises its training data and learns nothing that carries over")
        return [self._finding(int(vs[0]), message, evidence)]

    def _by_accuracy(self, view: RunView) -> list[Finding]:
        p = self.params
        val, train = self.series(view, VAL_ACC_TAGS), self.series(view, TRAIN_ACC_TAGS)
        if val is None or train is None or len(val[2]) < p.min_val_points:
            return []
        if len(train[2]) < p.min_points:
            return []
        start = trends.level(train[2][: trends.head_count(len(train[2]), 0.1, 1, 5)])
        end = trends.level(trends.tail(train[2], 0.2, 2))
        best = float(np.nanmax(trends.rolling_median(val[2], 3)))
        if not (best <= start + p.acc_band and end >= start + p.acc_gain):
            return []
        evidence = {"train_tag": train[0], "val_tag": val[0], "chance_level": start,
                    "val_acc_best": best, "train_end": end}
        message = (f"{val[0]} never rose above {best:.3g} (the untrained model's {train[0]}: "
                   f"{start:.3g}) while {train[0]} reached {end:.3g}: the model memorises its "
                   "training data and learns nothing that carries over")
        return [self._finding(int(val[1][0]), message, evidence)]

    def _finding(self, step: int, message: str, evidence: dict) -> Finding:
        suggestion = ("check that labels are aligned with inputs: train on 10 examples and "
                      "overfit them, then print a few (input, label) pairs; look for a shuffle "
                      "or an offset applied to inputs but not to labels, and for validation "
                      "data preprocessed differently")
        return self.finding("warning", None, step, message, evidence, suggestion)
