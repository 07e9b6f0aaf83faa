"""``nonfinite``: NaN or Inf appeared in the loss, an activation, a gradient or a weight."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose.base import Finding, Rule
from deepscope.diagnose.metric_names import TRAIN_LOSS_TAGS, VAL_LOSS_TAGS, most_points
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader

_SUGGESTIONS = {
    "input": "the data already contains NaN/Inf: check the dataset with torch.isfinite(x).all() "
    "and fix or drop those samples before training",
    "loss": "the loss became NaN/Inf while the network outputs were finite: use a numerically "
    "stable loss (F.cross_entropy on logits, BCEWithLogitsLoss) or clamp the argument of "
    "log/sqrt/division (e.g. torch.log(p.clamp_min(1e-8)))",
    "activation": "lower the learning rate by 10x and clip gradients at 1.0 "
    "(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)); if {layer} computes "
    "log/sqrt/division/exp, add an epsilon or clamp its input",
    "grad": "clip gradients at 1.0 (torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)) "
    "and lower the learning rate by 10x",
    "weight": "lower the learning rate by 10x and clip gradients at 1.0; the weights of {layer} "
    "were overwritten by a non-finite update",
    "diverged": "the loss diverged before it overflowed: lower the learning rate by 10x, clip "
    "gradients at 1.0 (torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)) and standardise "
    "inputs and regression targets",
}

#: A loss that grew this many times over its first values before turning NaN/Inf diverged
#: (training that merely hits a bad log/division does not grow first).
DIVERGENCE_GROWTH = 100.0


#: Event data copied into the evidence.
_EVIDENCE_KEYS = ("modules", "input_nonfinite", "tag", "value")


class Nonfinite(Rule):
    """NaN/Inf in the run, located at the first module in forward order that produced it.

    Mechanism: capture records a ``nonfinite`` event the moment a module output, the loss, a
    gradient or a weight stops being finite (even between sampled steps), naming the first module
    in forward order; the rule also reads the ``nonfinite`` count of every statistic row and the
    recognised loss tags, and reports the earliest of these. No threshold: a single NaN is
    certain. Evidence: ``source`` (input, activation, loss, grad, weight), ``modules`` (every
    module non-finite at that step), ``input_nonfinite``. Suggestion depends on the source:
    bad data, an unstable loss, or a learning rate too high.

    Example:
        >>> from deepscope.diagnose.rules.nonfinite import Nonfinite
        >>> Nonfinite().code
        'nonfinite'

    """

    code = "nonfinite"
    requires = ()
    live = True
    min_live_steps = 1

    @dataclass(frozen=True)
    class Params:
        """No threshold: one non-finite value is certain."""

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        found = self._from_events(view) or self._from_stats(view) or self._from_loss(view)
        if found is None:
            return []
        finding = self.build(*found)
        growth = _loss_growth(view, found[0]) if finding.evidence["source"] == "loss" else None
        if growth is not None and growth[0] >= DIVERGENCE_GROWTH:
            evidence = {**finding.evidence, "loss_growth": growth[0], "loss_tag": growth[1]}
            message = f"{finding.message}, after growing {growth[0]:.3g}x ({growth[1]})"
            return [
                self.finding(
                    "error",
                    finding.layer,
                    finding.step,
                    message,
                    evidence,
                    _SUGGESTIONS["diverged"],
                )
            ]
        return [finding]

    def build(self, step: int, layer: str | None, source: str, data: dict) -> Finding:
        """The finding for a non-finite value first seen at ``step`` in ``layer``."""
        if data.get("input_nonfinite"):
            source = "input"
        if source == "input":
            message = f"the model input contains NaN/Inf at step {step}"
        elif source == "loss" or not layer:
            tag = f" ({data['tag']})" if data.get("tag") else ""
            message = f"the loss{tag} became NaN/Inf at step {step}"
        else:
            message = f"module {layer!r} produced NaN/Inf first at step {step} (in its {source})"
        evidence = {"source": source, "step": step, **data}
        suggestion = _SUGGESTIONS.get(source, _SUGGESTIONS["activation"]).format(layer=layer)
        return self.finding("error", layer, step, message, evidence, suggestion)

    def _from_events(self, view: RunView) -> tuple[int, str | None, str, dict] | None:
        events = [e for e in view.events("nonfinite") if e.step is not None]
        if not events:
            return None
        ev = min(events, key=lambda e: (e.step, e.id))
        data = {k: v for k, v in ev.data.items() if k in _EVIDENCE_KEYS}
        return int(ev.step), ev.layer, str(ev.data.get("source", "activation")), data

    def _from_stats(self, view: RunView) -> tuple[int, str | None, str, dict] | None:
        first = view.first_nonfinite()
        if first is None:
            return None
        step, layer, kind = first
        source = "input" if kind == "input" else kind
        return step, layer, source, {"input_nonfinite": kind == "input"}

    def _from_loss(self, view: RunView) -> tuple[int, str | None, str, dict] | None:
        tags = set(view.scalar_tags())
        for tag in TRAIN_LOSS_TAGS + VAL_LOSS_TAGS:
            if tag not in tags:
                continue
            s = view.scalars(tag)
            bad = np.flatnonzero(~np.isfinite(s.values))
            if len(bad):
                return int(s.steps[bad[0]]), None, "loss", {"tag": tag}
        return None


def _loss_growth(view: RunView, step: int) -> tuple[float, str] | None:
    """How many times the training loss grew from its first values to its last finite one."""
    tags = set(view.scalar_tags())
    tag = most_points(TRAIN_LOSS_TAGS, {t: view.scalars(t).total_points
                                        for t in TRAIN_LOSS_TAGS if t in tags})
    if tag is None:
        return None
    s = view.scalars(tag)
    ok = np.isfinite(s.values) & (s.steps < step)
    vals = np.abs(s.values[ok])
    if len(vals) < 2:
        return None
    start = float(np.median(vals[: max(1, min(5, len(vals) // 2))]))
    return (float(vals[-1]) / start if start > 0 else float("inf")), tag
