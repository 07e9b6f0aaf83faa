"""``outlier_activations``: residual-stream channels with |activation| >= 100x the median."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding
from deepscope.diagnose.rules._transformer import TransformerRule, blocks
from deepscope.diagnose.view import as_view
from deepscope.store.reader import RunReader


class OutlierActivations(TransformerRule):
    """A few residual-stream channels whose activations dwarf the rest (outlier features).

    Mechanism: per residual block, the largest |activation| of its output divided by the median
    |activation| (``outlier_ratio`` of the block statistics) and the channel of the largest.
    Gaussian-like activations of a few thousand elements give a ratio near 6; a block fires when
    the median of its last quarter of samples is at least ``ratio``. Such channels (Dettmers et
    al. 2022, LLM.int8(); Sun et al. 2024, "Massive Activations in Large Language Models") break
    int8 quantisation and can overflow fp16. They are common in trained models, so the finding
    is informational (``info``) unless the ratio is still growing: its final level at least
    ``growth`` times the level of the first quarter (then ``warning``). Measured on the healthy
    transformer scenarios (3 seeds): ratios stay below ~15.
    Evidence: ``blocks`` (block, ratio, initial, channel), ``growing``. Suggestion: keep the
    channel in 16-bit when quantising; weight decay and a lower learning rate when it grows.

    Example:
        >>> OutlierActivations.Params().ratio
        100.0

    """

    code = "outlier_activations"
    needs = "blocks"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            ratio: largest / median |activation| of a block output that counts as an outlier.
            growth: final / first-quarter ratio above which the outliers are growing (warning).
            min_steps: sampled steps needed before judging.

        """

        ratio: float = 100.0
        growth: float = 3.0
        min_steps: int = 6

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        ratio, channel = blocks(view, "outlier_ratio"), blocks(view, "channel")
        p = self.params
        if ratio is None or channel is None or len(ratio.steps) < p.min_steps:
            return []
        rows = []
        for i, block in enumerate(ratio.layers):
            v = ratio.values[i]
            final = trends.level(trends.tail(v, 0.25, 2))
            if not final >= p.ratio:
                continue
            early = trends.level(v[: max(2, len(v) // 4)])
            tail = channel.values[i][-max(2, len(v) // 4):]
            common = Counter(int(c) for c in tail if np.isfinite(c)).most_common(1)
            rows.append({"block": block, "ratio": final, "initial": early,
                         "channel": common[0][0] if common else None,
                         "growing": bool(final >= p.growth * early)})
        if not rows:
            return []
        rows.sort(key=lambda r: -r["ratio"])
        growing = [r for r in rows if r["growing"]]
        top = (growing or rows)[0]
        channels = sorted({r["channel"] for r in rows if r["channel"] is not None})
        what = "and still growing" if growing else "stable"
        message = (f"outlier activations in {len(rows)} block(s): in {top['block']!r} the largest "
                   f"|activation| is {top['ratio']:.0f}x the median (channel {top['channel']}), "
                   f"{what} (it was {top['initial']:.0f}x early on)")
        suggestion = (f"when quantising, keep channel(s) {', '.join(map(str, channels[:5]))} in "
                      "16-bit (LLM.int8()-style mixed precision) and prefer bf16 to fp16; if "
                      "they keep growing, add weight decay and lower the learning rate")
        evidence = {"blocks": rows[:12], "growing": bool(growing), "channels": channels[:20]}
        first = np.flatnonzero(ratio.values[ratio.layers.index(top["block"])] >= p.ratio)
        step = int(ratio.steps[first[0]]) if len(first) else int(ratio.steps[-1])
        severity = "warning" if growing else "info"
        return [self.finding(severity, top["block"], step, message, evidence, suggestion)]
