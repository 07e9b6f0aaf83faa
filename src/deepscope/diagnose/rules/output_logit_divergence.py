"""``output_logit_divergence``: the log-partition of the output logits drifts away from 0."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding
from deepscope.diagnose.rules._transformer import TransformerRule, info
from deepscope.diagnose.view import RunView, as_view
from deepscope.errors import NotRecordedError
from deepscope.store.reader import RunReader
from deepscope.store.transformer_records import OutputSeries


class OutputLogitDivergence(TransformerRule):
    """The log-partition ``z = log sum exp(logits)`` of a language-model head drifts away from 0
    and keeps drifting.

    Mechanism: per sampled step the mean ``z`` over positions (``lse_mean`` of the output
    statistics). Cross-entropy is blind to a shift of all logits, so nothing holds ``z`` in
    place: without weight decay, and as the model grows confident, the logits wander (Wortsman et
    al. 2023, "Small-scale proxies for large-scale Transformer training instabilities": output
    logit divergence; Chowdhery et al. 2022, PaLM, add a z-loss ``1e-4 * z**2`` for stability).
    Large ``|z|`` loses precision in bf16/fp16 and ends in loss divergence. It fires when the
    final ``|z|`` (median of the last quarter) exceeds the initial one by ``drift`` nats and is
    still moving away from 0 (the last quarter is ``still`` of that drift beyond the third), on
    heads with at least ``min_width`` logits per position (a classifier's few confident logits
    are expected to be large). Measured on the healthy transformer scenarios (3 seeds): drift at
    most ~1 nat on text; ~3 on a task with deterministic half of the tokens; the memorising
    scenarios drift 5-10 nats in a few hundred steps and keep going.
    Evidence: ``initial_z``, ``final_z``, ``drift``, ``max_logit``, ``width``, ``watch``.
    Suggestion: a z-loss of coefficient 1e-4, or weight decay on the output layer.

    Example:
        >>> OutputLogitDivergence.Params().drift
        5.0

    """

    code = "output_logit_divergence"
    needs = "output"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            drift: growth of |z| in nats (z moved e**drift times further from a normalised 0).
            still: share of the drift the last quarter must add beyond the third (0: it is not
                coming back).
            min_width: logits per position of a language-model head (a vocabulary).
            min_steps: sampled steps needed before judging.

        """

        drift: float = 5.0
        still: float = 0.0
        min_width: float = 64.0
        min_steps: int = 8

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        found = info(view)
        out = []
        for watch in found.outputs if found is not None else ():
            series = self._series(view, watch)
            if series is not None:
                out += self._judge(watch, series)
        return out

    def _series(self, view: RunView, watch: str) -> OutputSeries | None:
        try:
            s = view.reader.output_series(watch)
        except NotRecordedError:
            return None
        keep = s.steps < view.horizon()
        return OutputSeries(s.watch, s.steps[keep], {k: v[keep] for k, v in s.fields.items()})

    def _judge(self, watch: str, s: OutputSeries) -> list[Finding]:
        p = self.params
        z, n = np.abs(s["lse_mean"]), len(s.steps)
        if n < p.min_steps or not trends.level(s["width"]) >= p.min_width:
            return []
        quarter = max(2, n // 4)
        initial = trends.level(z[: trends.head_count(n, 0.1, 1, 3)])
        final = trends.level(z[-quarter:])
        third = trends.level(z[-2 * quarter : -quarter])
        drift = final - initial
        if not (drift >= p.drift and final - third >= p.still * drift):
            return []
        signed = s["lse_mean"]
        first_z, last_z = trends.level(signed[:3]), trends.level(signed[-quarter:])
        crossed = np.flatnonzero(z - initial >= p.drift / 2)
        step = int(s.steps[crossed[0]]) if len(crossed) else int(s.steps[-1])
        evidence = {"watch": watch, "initial_z": first_z, "final_z": last_z, "drift": drift,
                    "max_logit": trends.level(s["max_logit"][-quarter:]),
                    "width": trends.level(s["width"])}
        message = (f"the output log-partition log sum exp(logits) drifted from {first_z:.3g} to "
                   f"{last_z:.3g} ({drift:+.1f} nats away from 0) and is still moving; the "
                   f"largest logit is now {evidence['max_logit']:.3g}")
        suggestion = ("add a z-loss to the training loss: loss + 1e-4 * "
                      "torch.logsumexp(logits, -1).pow(2).mean() (PaLM), or put weight decay on "
                      "the output layer")
        return [self.finding("warning", None if watch.startswith("<") else watch, step, message,
                             evidence, suggestion)]
