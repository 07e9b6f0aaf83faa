"""``exploding_gradients``: gradient norms grow by orders of magnitude or dwarf the weights."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, LayerTrendRule
from deepscope.diagnose.metric_names import TRAIN_LOSS_TAGS, most_points
from deepscope.diagnose.rules._layers import root_name
from deepscope.diagnose.rules.unnormalized_inputs import input_is_unnormalized
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader


def initial_scales(view: RunView) -> tuple[float, float] | None:
    """``(initial training loss, initial output rms)``: the median of the first 5 loss points and
    of the root output's root-mean-square on the first 3 sampled steps (None if not recorded).

    Example:
        >>> initial_scales(view)  # doctest: +SKIP
        (26370000.0, 3.05)

    """
    tags = set(view.scalar_tags())
    tag = most_points(TRAIN_LOSS_TAGS, {t: view.scalars(t).total_points
                                        for t in TRAIN_LOSS_TAGS if t in tags})
    root = root_name(view)
    if tag is None or not view.has("activation"):
        return None
    act = view.stat_matrix("activation", "norm")
    if root not in act.layers:
        return None
    row = act.layers.index(root)
    count = view.stat_matrix("activation", "count").values[row]
    out0 = trends.level(trends.rms(act.values[row], count)[:3])
    loss0 = trends.level(np.abs(view.scalars(tag).values[:5]))
    if not (np.isfinite(loss0) and np.isfinite(out0)):
        return None
    return loss0, out0


class ExplodingGradients(LayerTrendRule):
    """Gradient norms that grow by orders of magnitude, or that dwarf the weights they update.

    Mechanism: the global gradient norm ``G_t = sqrt(sum_l ||g_l||^2)`` and weight norm
    ``W_t`` are built per sampled step (before any non-finite value). Two independent signs:

    * growth: the median of the last quarter of ``G`` is ``growth`` times the initial level
      (median of the first few samples). Healthy runs keep ``G`` within one order of magnitude
      (measured on the healthy scenarios: at most ~11x, an LSTM); a model compensating for a
      frozen layer reached ~500x while still learning, so three orders of magnitude are
      required. Pascanu et al. (2013) describe explosion as growth by orders of magnitude.
    * ratio: ``G_t / W_t`` (one SGD step at lr = 1 would move the weights by this share) stays
      above ``ratio`` for ``persist`` of the samples. Healthy runs sit near 1e-2..1e-1
      (measured on 20 healthy runs: largest median 0.13; Karpathy's update/weight ~1e-3 at
      lr ~1e-2..1e-3 matches); 3 means the gradient is three times the whole weight vector.
      Layers whose weights never change are left out (that is ``frozen_parameters``).

    Big loss, big gradients is scale, not explosion. When the inputs themselves are
    unnormalised, every gradient scales with them and ``unnormalized_inputs`` explains it: the
    layer reading the input is left out and only the growth sign counts. When the targets are
    large (a regression in raw units, targets ~5,000), the gradient scales with the residual,
    not with anything that blew up. Cross-entropy grows at most linearly with the logits
    (``L <= 2 max|z|``), a squared error quadratically with the residual, so a large initial
    loss (``target_loss``) that is also ``target_ratio`` times the model's own initial output
    rms comes from the targets. Measured (initial loss / output rms): classifiers blown up by
    their init 0.6-1.4 (loss 148 to 4e6), regressions on raw targets >= 950 (targets ~150 to
    ~5,000, with or without the output bias set to the target mean), while their gradients are
    50-340x the weights and the fit converges. Then only the growth sign counts too.
    Not run live: early-training transients settle (measured: raw-pixel inputs give 10x ratios
    for the first steps only).
    Evidence: ``initial_grad_norm``, ``final_grad_norm``, ``growth``, ``grad_to_weight``,
    ``largest_layer``, ``initial_loss``, ``large_targets``. Suggestion: fix the scale (init,
    normalisation, a 10x lower learning rate), then clip at the norm of a healthy step (the
    measured initial norm rather than a blind 1.0, which under Adam only slows every step).

    Example:
        >>> ExplodingGradients.Params().growth
        1000.0

    """

    code = "exploding_gradients"
    requires = ("grad",)

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            growth: final / initial global gradient norm that counts as explosion.
            ratio: global gradient norm / global weight norm that counts as dwarfing.
            persist: share of samples on which the ratio must hold.
            min_steps: sampled steps needed before judging.
            target_loss: initial training loss above which large targets may explain large
                gradients (cross-entropy near chance is below 10 for up to 20,000 classes).
            target_ratio: initial loss / initial output rms (at least 1) from which the loss
                cannot come from the outputs' own scale.

        """

        growth: float = 1000.0
        ratio: float = 3.0
        persist: float = 0.5
        min_steps: int = 4
        target_loss: float = 100.0
        target_ratio: float = 30.0

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        layers, steps, g = self.matrix(view, "grad", "norm")
        if len(steps) < self.params.min_steps or not layers:
            return []
        rows = np.ones(len(layers), bool)
        raw_inputs = input_is_unnormalized(view)
        if raw_inputs:
            first = self._first_weight_row(view, layers)
            if first is not None and rows.sum() > 1:
                rows[first] = False
        # A parameter that never moves cannot blow training up: its gradient (often large, as
        # the rest of the model compensates for it) is frozen_parameters' evidence, not ours.
        rows &= ~np.isin(layers, list(self._unchanged(view)))
        if not rows.any():
            return []
        g = g[rows]
        names = [n for n, keep in zip(layers, rows, strict=True) if keep]
        valid = np.isfinite(g).any(axis=0)
        total = np.sqrt(np.nansum(g**2, axis=0))
        steps, total, g = steps[valid], total[valid], g[:, valid]
        if len(steps) < self.params.min_steps:
            return []
        # Large inputs or targets scale every gradient: only growth is evidence then.
        scales = initial_scales(view)
        p = self.params
        big_targets = scales is not None and scales[0] >= max(
            p.target_loss, p.target_ratio * max(1.0, scales[1]))
        weight = None if raw_inputs or big_targets else self._weight_total(view, names, steps)
        found = self._judge(view, names, steps, total, g, weight)
        extra = {"initial_loss": scales[0] if scales else None, "large_targets": big_targets}
        return [replace(f, evidence={**f.evidence, **extra}) for f in found]

    def _unchanged(self, view) -> set[str]:  # noqa: ANN001
        """Layers whose weight norm is identical at every sampled step."""
        if not view.has("weight"):
            return set()
        m = view.stat_matrix("weight", "norm")
        if m.values.shape[1] < 2:
            return set()
        with np.errstate(invalid="ignore", divide="ignore"):
            span = np.nanmax(m.values, axis=1) - np.nanmin(m.values, axis=1)
            rel = span / np.nanmax(np.abs(m.values), axis=1)
        return {n for n, r in zip(m.layers, rel, strict=True) if r <= 1e-9}

    def _first_weight_row(self, view, layers: list[str]) -> int | None:  # noqa: ANN001
        root = root_name(view)
        for i, name in enumerate(layers):
            if name != root:
                return i
        return None

    def _weight_total(self, view, names: list[str], steps: np.ndarray) -> np.ndarray | None:  # noqa: ANN001
        if not view.has("weight"):
            return None
        m = view.stat_matrix("weight", "norm")
        pos = {n: i for i, n in enumerate(m.layers)}
        rows = [pos[n] for n in names if n in pos]
        cols = np.searchsorted(m.steps, steps)
        if not rows or np.any(cols >= len(m.steps)):
            return None
        if np.any(m.steps[cols] != steps):
            return None
        return np.sqrt(np.nansum(m.values[np.ix_(rows, cols)] ** 2, axis=0))

    def _judge(self, view, names, steps, total, g, weight) -> list[Finding]:  # noqa: ANN001
        p = self.params
        n = len(total)
        k = trends.head_count(n, 0.1, 1, 3)
        initial = trends.level(total[:k])
        final = trends.level(trends.tail(total[k:], 0.25, 2))
        growth = final / initial if initial > 0 else (np.inf if final > 0 else 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = total / weight if weight is not None else np.full(n, np.nan)
            dwarf = ratio >= p.ratio
        ratio_share = trends.share(dwarf, np.isfinite(ratio))
        grown = growth >= p.growth
        if not grown and ratio_share < p.persist:
            return []
        idx = self._first_index(total, initial, dwarf, grown)
        col = g[:, idx]
        largest = names[int(np.nanargmax(np.where(np.isfinite(col), col, -1)))]
        evidence = {
            "initial_grad_norm": initial,
            "final_grad_norm": final,
            "growth": growth,
            "grad_to_weight": trends.level(ratio),
            "grad_to_weight_share": ratio_share,
            "largest_layer": largest,
        }
        if grown:
            what = f"the gradient norm grew {growth:.0f}x (from {initial:.3g} to {final:.3g})"
        else:
            what = (f"the gradient norm is {trends.level(ratio):.3g}x the weight norm on "
                    f"{ratio_share:.0%} of sampled steps")
        message = f"{what}; the largest gradients are in {largest!r}"
        suggestion = (
            f"lower the learning rate by 10x, check the initialisation scale of {largest!r} "
            "(use kaiming_normal_/xavier_uniform_) and add normalisation (LayerNorm/BatchNorm); "
            "if spikes remain, clip at the norm of a healthy step "
            f"(torch.nn.utils.clip_grad_norm_(model.parameters(), {initial:.2g}))"
        )
        severity = "error" if growth >= p.growth * 100 else "warning"
        return [self.finding(severity, largest, int(steps[idx]), message, evidence, suggestion)]

    def _first_index(self, total, initial, dwarf, grown) -> int:  # noqa: ANN001
        if grown:
            hit = np.flatnonzero(total >= np.sqrt(self.params.growth) * initial)
        else:
            hit = np.flatnonzero(dwarf)
        return int(hit[0]) if len(hit) else len(total) - 1
