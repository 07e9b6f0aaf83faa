"""``no_generalization``: validation stays at chance level while the training loss falls."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, ScalarTrendRule
from deepscope.diagnose.metric_names import TRAIN_ACC_TAGS, VAL_ACC_TAGS, VAL_LOSS_TAGS
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader

Series = tuple[str, np.ndarray, np.ndarray]


class NoGeneralization(ScalarTrendRule):
    """The model memorises its training set but never beats chance on validation data.

    Random or misaligned labels (a shuffle applied to inputs but not labels, an off-by-one in a
    collate function) make the network memorise noise: the training loss falls, validation stays
    at chance. Reads the recognised training-loss, validation-accuracy and validation-loss tags
    with the most points. The chance level is the untrained model's training loss ``L0`` (its
    first point, or the median of the first five if higher: a noisy first batch). The training
    loss (median of the last 20%) must fall by ``train_drop`` of ``L0``, and

    * with a validation accuracy and ``L0 >= log 2``: its best stays within ``acc_band`` of
      chance accuracy, ``exp(-L0)`` (cross-entropy at chance is ``log C`` for C balanced
      classes; a model starting below ``log 2`` was already trained). Measured:
      random, shuffled and off-by-one labels reach at most chance + 0.11 (3 cases x 3 seeds),
      + 0.16 on the small validation sets of ``bench/diagnose_heldout.py`` (45 wine samples,
      best of 20 evaluations); healthy classifiers at least chance + 0.39 (27 runs, and the
      held-out ones): the band sits in that gap;
    * else with a validation loss: its best stays between ``chance_low`` and ``chance_high`` x
      ``L0`` (far above it when fine-tuning starts already trained: measured 4.3-13x). This is
      the weaker test, since ``L0`` is a noisy estimate of chance: measured, mislabelled runs
      0.95-1.14, a healthy overfitting one (60 samples, 5 informative of 100 features) 0.91,
      other healthy runs at most 0.75;
    * else with training and validation accuracy only: the validation accuracy stays within
      ``acc_band`` of the initial training accuracy while the training accuracy rises by
      ``acc_gain``.

    Runs whose validation never improves because nothing trains (plateaus, underflow, vanishing
    gradients) fail the training-loss condition. Distinct from ``overfitting`` (validation
    improved, then rose), which is reported as its symptom here. Evidence: ``train_tag``,
    ``val_tag``, ``chance_level``, ``val_best``, ``train_end``. Suggestion: check label
    alignment by overfitting 10 examples.

    Example:
        >>> NoGeneralization.Params().train_drop
        0.3

    """

    code = "no_generalization"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            train_drop: relative fall of the training loss needed.
            acc_band: largest rise of the best validation accuracy above chance accuracy.
            chance_low: without accuracy, the best validation loss stays above this share of
                the chance level ...
            chance_high: ... and below this multiple of it.
            acc_gain: rise of the training accuracy needed (accuracy-only runs).
            min_points: training-loss points needed.
            min_val_points: validation points needed.

        """

        train_drop: float = 0.3
        acc_band: float = 0.25
        chance_low: float = 0.93
        chance_high: float = 1.5
        acc_gain: float = 0.3
        min_points: int = 6
        min_val_points: int = 4

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        p = self.params
        found = self.train_loss(view)
        acc, val = self.series(view, VAL_ACC_TAGS), self.series(view, VAL_LOSS_TAGS)
        acc = acc if acc is not None and len(acc[2]) >= p.min_val_points else None
        val = val if val is not None and len(val[2]) >= p.min_val_points else None
        if found is None or (acc is None and val is None):
            return self._by_accuracy_only(view)
        ttag, _, tv, initial = found
        chance = max(float(tv[0]), initial)
        train_end = trends.level(trends.tail(tv, 0.2, 2))
        if train_end > (1 - p.train_drop) * chance:
            return []
        evidence = {"train_tag": ttag, "chance_level": chance, "train_end": train_end}
        # exp(-L0) is chance accuracy only for a model that starts at chance among >= 2
        # classes (L0 >= log 2); one that starts below it was already trained.
        if acc is not None and chance >= math.log(2):
            return self._by_val_accuracy(acc, chance, ttag, evidence)
        if val is None:
            return []
        return self._by_val_loss(val, chance, ttag, evidence)

    def _by_val_accuracy(self, acc: Series, chance: float, ttag: str,
                         evidence: dict) -> list[Finding]:
        tag, steps, values = acc
        chance_acc = math.exp(-chance)
        best = float(np.nanmax(values))
        if best > chance_acc + self.params.acc_band:
            return []
        evidence = {**evidence, "val_tag": tag, "val_best": best, "chance_accuracy": chance_acc}
        message = (f"{tag} never rose above {best:.3g} (chance: {chance_acc:.2g}, from {ttag} of "
                   f"the untrained model, {chance:.3g}) while {ttag} fell to "
                   f"{evidence['train_end']:.3g}: the model memorises its training data and "
                   "learns nothing that carries over")
        return [self._finding(int(steps[0]), message, evidence)]

    def _by_val_loss(self, val: Series, chance: float, ttag: str,
                     evidence: dict) -> list[Finding]:
        tag, steps, values = val
        best = float(np.nanmin(values))
        if not self.params.chance_low * chance <= best <= self.params.chance_high * chance:
            return []
        evidence = {**evidence, "val_tag": tag, "val_best": best,
                    "val_end": trends.level(trends.tail(values, 0.2, 2))}
        message = (f"{tag} never got below {best:.3g}, the chance level ({ttag} of the untrained "
                   f"model: {chance:.3g}), while {ttag} fell to {evidence['train_end']:.3g}: "
                   "the model memorises its training data and learns nothing that carries over")
        return [self._finding(int(steps[0]), message, evidence)]

    def _by_accuracy_only(self, view: RunView) -> list[Finding]:
        p = self.params
        val, train = self.series(view, VAL_ACC_TAGS), self.series(view, TRAIN_ACC_TAGS)
        if val is None or train is None or len(val[2]) < p.min_val_points:
            return []
        if len(train[2]) < p.min_points:
            return []
        start = trends.level(train[2][: trends.head_count(len(train[2]), 0.1, 1, 5)])
        end = trends.level(trends.tail(train[2], 0.2, 2))
        best = float(np.nanmax(val[2]))
        if not (best <= start + p.acc_band and end >= start + p.acc_gain):
            return []
        evidence = {"train_tag": train[0], "val_tag": val[0], "chance_level": start,
                    "val_best": best, "train_end": end}
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
