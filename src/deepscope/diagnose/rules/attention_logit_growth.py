"""``attention_logit_growth``: attention logits (max |q.k|/sqrt(d)) grow by orders of magnitude."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding
from deepscope.diagnose.rules._transformer import (
    TransformerRule,
    describe_heads,
    head_names,
    heads,
    per_head,
)
from deepscope.diagnose.view import as_view
from deepscope.store.reader import RunReader


class AttentionLogitGrowth(TransformerRule):
    """Heads whose largest attention logit grows by orders of magnitude to a level no healthy run
    reaches.

    Mechanism: per head, the largest |q.k| x scale over unmasked pairs (``max_logit`` of the
    head statistics). Its initial level is the median of the first samples; its final level the
    median of the last quarter. A head fires when the final level is at least ``level`` and at
    least ``growth`` times the initial level. Without qk-layernorm, at a learning rate above the
    stable range, q and k norms grow together and the logits grow quadratically with them until
    attention is one-hot and training diverges (Wortsman et al. 2023, "Small-scale proxies for
    large-scale Transformer training instabilities"; Dehghani et al. 2023, ViT-22B). Measured on
    the healthy transformer scenarios (GPT-2, BERT and qk-layernorm models, 3 seeds): the largest
    final level is ~15, where 4-layer GPT-2 models at a learning rate 10x above the stable one
    reach 100-10,000. Random initialisation starts near 0.1, so the growth condition alone would
    fire on every run that learns to attend; the level does not.
    Evidence: ``heads`` (module, head, initial, final, peak; the largest first),
    ``affected_heads``, ``total_heads``, ``largest``. Suggestion: qk-layernorm.

    Example:
        >>> AttentionLogitGrowth.Params().level
        50.0

    """

    code = "attention_logit_growth"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            level: final max logit of a head that no healthy run reached (measured max ~15).
            growth: final / initial level of that head (orders of magnitude: 30x and more).
            min_steps: sampled steps needed before judging.
            severe: final level above which the finding is an error (attention is one-hot).

        """

        level: float = 50.0
        growth: float = 30.0
        min_steps: int = 6
        severe: float = 1000.0

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        m = heads(view, "max_logit")
        p = self.params
        if m is None or len(m.steps) < p.min_steps:
            return []
        values = per_head(m)
        names = head_names(m)
        k = trends.head_count(len(m.steps), 0.1, 1, 3)
        initial = np.array([trends.level(values[:k, j]) for j in range(values.shape[1])])
        final = np.array([trends.level(trends.tail(values[k:, j], 0.25, 2))
                          for j in range(values.shape[1])])
        with np.errstate(invalid="ignore", divide="ignore"):
            growth = final / initial
        hit = np.flatnonzero((final >= p.level) & (growth >= p.growth))
        if not len(hit):
            return []
        hit = hit[np.argsort(-final[hit])]
        picked = [names[j] for j in hit]
        rows = [{"module": names[j][0], "head": names[j][1], "initial": initial[j],
                 "final": final[j], "peak": float(np.nanmax(values[:, j]))} for j in hit]
        worst = int(hit[0])
        crossed = np.flatnonzero(values[:, worst] >= p.level)
        step = int(m.steps[crossed[0]]) if len(crossed) else int(m.steps[-1])
        evidence = {"heads": self.evidence_heads(rows), "affected_heads": len(hit),
                    "total_heads": len(names), "largest": final[worst],
                    "level": p.level, "growth": p.growth}
        message = (f"attention logits grew by orders of magnitude in {len(hit)} of {len(names)} "
                   f"heads: {describe_heads(picked)}; the largest max |q.k|/sqrt(d) went from "
                   f"{initial[worst]:.3g} to {final[worst]:.4g}")
        suggestion = ("add qk-layernorm: normalise q and k per head before the dot product "
                      "(nn.LayerNorm(head_dim) on each, as in Wortsman et al. 2023 and ViT-22B); "
                      "or lower the learning rate")
        severity = "error" if final[worst] >= p.severe else "warning"
        return [self.finding(severity, names[worst][0], step, message, evidence, suggestion)]
