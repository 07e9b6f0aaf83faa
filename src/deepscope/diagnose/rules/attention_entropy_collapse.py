"""``attention_entropy_collapse``: many heads' attention entropy falls towards 0 early."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding
from deepscope.diagnose.metric_names import TRAIN_LOSS_TAGS
from deepscope.diagnose.rules._transformer import (
    TransformerRule,
    describe_heads,
    head_names,
    heads,
    per_head,
)
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader


class AttentionEntropyCollapse(TransformerRule):
    """Heads whose attention entropy collapses towards 0 early in training, many at once.

    Mechanism: per head, the mean attention entropy over queries divided by the entropy of
    uniform attention over the same keys (1 = uniform, 0 = one-hot). A head *collapsed* when it
    started at ``start`` or more and its final level (median of the last quarter) is at most
    ``collapsed``, and *early* when it fell below ``collapsed`` to stay (80% of the later
    samples) within the first ``early`` share of the sampled steps. The rule fires when at least
    ``min_share`` of all heads collapsed early and the training loss was unstable or stalled
    while they did (it gave back ``giveback`` of its progress, or its level when the heads
    collapsed was within ``stall`` of its start): Zhai et al. 2023 ("Stabilizing Transformer
    Training by Preventing Attention Entropy Collapse") show entropy collapse goes with unstable
    or diverging training; a head that specialises (previous-token, delimiter heads) is healthy,
    hence the share and the loss. Measured on the healthy transformer scenarios (3 seeds):
    at most ~10% of heads end below 0.3; 4-layer GPT-2 models at a learning rate 10x above the
    stable one end with 60-100% of heads below 0.2, from the first third of training on.
    Evidence: ``heads`` (module, head, start, final, collapsed_at), ``share``, ``loss``.
    Suggestion: qk-layernorm, a lower learning rate, or sigma-Reparam.

    Example:
        >>> AttentionEntropyCollapse.Params().collapsed
        0.2

    """

    code = "attention_entropy_collapse"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            collapsed: final normalised entropy of a collapsed head.
            start: normalised entropy the head must have started from.
            early: share of the sampled steps within which the collapse must happen.
            min_share: share of all heads that must collapse early.
            giveback: loss rise above its running minimum, as a share of the progress, that
                counts as unstable (rolling median over 5% of the points).
            stall: the loss when the heads collapsed, as a share of the initial loss, above
                which it counts as stalled (it had not fallen by more than 1 - stall).
            min_steps: sampled steps needed before judging.

        """

        collapsed: float = 0.2
        start: float = 0.5
        early: float = 0.5
        min_share: float = 0.25
        giveback: float = 0.1
        stall: float = 0.9
        min_steps: int = 6

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        ent, uni = heads(view, "entropy_mean"), heads(view, "uniform_entropy")
        p = self.params
        if ent is None or uni is None or len(ent.steps) < p.min_steps:
            return []
        with np.errstate(invalid="ignore", divide="ignore"):
            norm = per_head(ent) / per_head(uni)
        names = head_names(ent)
        n = len(ent.steps)
        k = trends.head_count(n, 0.1, 1, 3)
        rows, at = [], []
        for j in range(norm.shape[1]):
            start = trends.level(norm[:k, j])
            final = trends.level(trends.tail(norm[k:, j], 0.25, 2))
            first = trends.first_persistent(norm[:, j] <= p.collapsed)
            if start >= p.start and final <= p.collapsed and first is not None \
                    and first <= p.early * (n - 1):
                rows.append({"module": names[j][0], "head": names[j][1], "start": start,
                             "final": final, "collapsed_at": int(ent.steps[first])})
                at.append(int(ent.steps[first]))
        share = len(rows) / max(len(names), 1)
        if share < p.min_share:
            return []
        loss = self._loss_state(view, int(np.median(at)))
        if loss is not None and not loss["unstable"]:
            return []
        rows.sort(key=lambda r: (r["collapsed_at"], r["final"]))
        picked = [(r["module"], r["head"]) for r in rows]
        evidence = {"heads": self.evidence_heads(rows), "share": share,
                    "collapsed_heads": len(rows), "total_heads": len(names), "loss": loss}
        why = "" if loss is None else f" while {loss['why']}"
        message = (f"attention entropy collapsed early in {len(rows)} of {len(names)} heads "
                   f"({describe_heads(picked)}): from {rows[0]['start']:.2f} of uniform to "
                   f"{rows[0]['final']:.3f} by step {rows[0]['collapsed_at']}{why}")
        suggestion = (f"add qk-layernorm to the attention of {rows[0]['module']!r} and the "
                      "other collapsed heads (LayerNorm on q and k per head), or lower the "
                      "learning rate; sigma-Reparam (spectral reparametrisation of the "
                      "projections, Zhai et al. 2023) keeps the entropy up as well")
        return [self.finding("warning", rows[0]["module"], rows[0]["collapsed_at"], message,
                             evidence, suggestion)]

    def _loss_state(self, view: RunView, at_step: int) -> dict[str, Any] | None:
        """Whether the training loss was unstable or stalled (None: no loss logged)."""
        found = self.train_series(view)
        if found is None:
            return None
        tag, steps, values = found
        p = self.params
        n = len(values)
        initial = trends.level(values[: trends.head_count(n, 0.1, 1, 5)])
        smooth = trends.rolling_median(values, max(3, n // 20))
        low = float(np.nanmin(smooth))
        rise, _, _ = trends.largest_giveback(smooth)
        progress = max(initial - low, 1e-12)
        i = int(np.clip(np.searchsorted(steps, at_step), 0, n - 1))
        at = float(smooth[i])
        gave_back = rise >= p.giveback * progress
        stalled = at >= p.stall * initial
        why = (f"{tag} gave back {rise / progress:.0%} of its progress" if gave_back else
               f"{tag} had barely moved ({at:.4g} from {initial:.4g})" if stalled else "")
        return {"tag": tag, "initial": initial, "at_collapse": at, "min": low,
                "giveback_share": rise / progress, "unstable": gave_back or stalled, "why": why}

    def train_series(self, view: RunView) -> tuple[str, np.ndarray, np.ndarray] | None:
        """The raw training loss up to its first non-finite value (None when not logged)."""
        present = set(view.scalar_tags())
        tag = next((t for t in TRAIN_LOSS_TAGS if t in present), None)
        if tag is None:
            return None
        s = view.scalars(tag)
        bad = np.flatnonzero(~np.isfinite(s.values))
        end = int(bad[0]) if len(bad) else len(s.values)
        if end < 6:
            return None
        return (tag, *trends.condense(s.steps[:end], s.values[:end], 1000))
