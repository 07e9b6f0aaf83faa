"""``double_softmax``: the model outputs probabilities and is trained with cross-entropy."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import EventRule, Finding
from deepscope.diagnose.metric_names import TRAIN_LOSS_TAGS, most_points
from deepscope.diagnose.view import RunView
from deepscope.store.records import Event


def loss_floor(width: int) -> float:
    """The lowest cross-entropy of ``width`` classes computed on probabilities instead of logits.

    ``CrossEntropyLoss(p, y) = -p_y + log(sum_j exp(p_j))`` with ``p`` on the simplex is smallest
    for ``p = one_hot(y)``: ``log(e + width - 1) - 1`` (1.46 for 10 classes, 0.31 for 2), and a
    batch mean cannot go lower.

    Example:
        >>> round(loss_floor(10), 3), round(loss_floor(2), 3)
        (1.461, 0.313)

    """
    return math.log(math.e + width - 1) - 1


class DoubleSoftmax(EventRule):
    """A final softmax before ``CrossEntropyLoss``, which applies softmax again.

    Mechanism: capture records a ``probability_outputs`` event when, on a sampled training step,
    every row of the model output's last dimension (width >= 2) is >= 0 and sums to 1 within 1e-3.
    Logits never do that; on ``min_events`` sampled steps it is certain the model outputs
    probabilities, so the rule runs live. Cross-entropy on probabilities has a floor (the logits it
    sees span at most 1, so its gradients are flattened and the loss of C classes never goes below
    ``log(e + C - 1) - 1``: 1.46 for 10 classes, 0.31 for 2). Afterwards the training loss is
    compared with that floor: a loss that went below ``floor_margin`` x the floor is not
    cross-entropy on these outputs (NLL on their log, a KL divergence, a squared error): then the
    finding is ``info``, replacing any live warning. Measured: no event on the healthy scenarios
    (``log_softmax`` + NLL, soft-target distillation and sigmoid autoencoders among them); on the
    buggy ones the lowest loss stays 1.01-1.66x the floor (1.66: two classes). Evidence: ``width``,
    ``steps``, ``max_row_dev``, ``min``, ``loss_floor``, ``min_loss``, ``tag``. Suggestion: remove
    the final softmax.

    Example:
        >>> DoubleSoftmax.Params().floor_margin
        0.98

    """

    code = "double_softmax"
    event = "probability_outputs"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            min_events: sampled steps with probability outputs needed.
            floor_margin: a training loss below this share of the floor is another loss.

        """

        min_events: int = 2
        floor_margin: float = 0.98

    def judge(
        self, view: RunView | None, events: list[Event], sampled: np.ndarray | None
    ) -> list[Finding]:
        events = [e for e in events if int(e.data.get("width", 0)) >= 2]
        if len(events) < self.params.min_events:
            return []
        first = events[0]
        width = int(first.data["width"])
        floor = loss_floor(width)
        tag, lowest = _lowest_loss(view)
        evidence = {"width": width, "steps": [int(e.step) for e in events][:20],
                    "max_row_dev": max(float(e.data.get("max_row_dev", 0.0)) for e in events),
                    "min": min(float(e.data.get("min", 0.0)) for e in events),
                    "loss_floor": floor, "min_loss": lowest, "tag": tag}
        step = int(first.step)
        if lowest is not None and lowest < self.params.floor_margin * floor:
            message = (f"the model outputs probabilities ({width} values >= 0 summing to 1 per "
                       f"row), but {tag} went down to {lowest:.3g}, below the {floor:.3g} floor "
                       "of cross-entropy on probabilities: the loss is not CrossEntropyLoss")
            suggestion = ("if you take log() of these probabilities, output log_softmax instead "
                          "(same result, numerically stable)")
            return [self.finding("info", first.layer, step, message, evidence, suggestion)]
        seen = "" if lowest is None else f"; {tag} never went below {lowest:.3g}"
        message = (f"the model outputs probabilities ({width} values >= 0 summing to 1 per row): "
                   "CrossEntropyLoss applies softmax again, which flattens the gradients "
                   f"(its loss cannot go below {floor:.3g}{seen})")
        suggestion = ("remove the final softmax: CrossEntropyLoss expects logits (apply softmax "
                      "only for predictions, outside the training forward)")
        return [self.finding("warning", first.layer, step, message, evidence, suggestion)]


def _lowest_loss(view: RunView | None) -> tuple[str | None, float | None]:
    """The training-loss tag and its lowest smoothed value (rolling median of 3)."""
    if view is None:
        return None, None
    present = set(view.scalar_tags())
    tag = most_points(TRAIN_LOSS_TAGS, {t: view.scalars(t).total_points
                                        for t in TRAIN_LOSS_TAGS if t in present})
    if tag is None:
        return None, None
    v = view.scalars(tag).values
    v = v[np.isfinite(v)]
    if not len(v):
        return tag, None
    return tag, float(np.nanmin(trends.rolling_median(v, 3)))
