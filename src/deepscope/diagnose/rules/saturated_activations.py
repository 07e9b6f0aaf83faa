"""``saturated_activations``: sigmoid/tanh-like outputs pinned at their bounds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, LayerTrendRule
from deepscope.diagnose.rules._layers import (
    first_weight_layer,
    previous_weight_layer,
    root_name,
)
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader


class SaturatedActivations(LayerTrendRule):
    """Hidden sigmoid/tanh-family units pinned at their bounds, where their derivative is ~0.

    Mechanism: capture's ``saturated_frac`` is the share of outputs within 1% of the bounds
    (sigmoid > 0.99: derivative < 0.01, 25x below its maximum). The median over the last half
    of the sampled steps must reach ``threshold``. The model's own output layer is skipped (its
    statistics equal the root's output): a confident sigmoid classifier is meant to saturate.
    LeCun et al. (1998) and Glorot & Bengio (2010) show saturated hidden units stall learning;
    hidden tanh layers of the healthy scenarios stay at or below 2% (measured), the
    deliberately saturated ones at 53-78%. Evidence: ``saturated_frac`` (median of the last
    half), ``initial``, ``family``.
    Suggestion: standardise inputs, a smaller init of the feeding layer, or ReLU-family units.

    Example:
        >>> SaturatedActivations.Params().threshold
        0.5

    """

    code = "saturated_activations"
    requires = ("activation",)

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            threshold: median share of saturated outputs (last half of the run) that fires.
            min_steps: sampled steps needed.

        """

        threshold: float = 0.5
        min_steps: int = 4

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        info = self.layer_info(view)
        if not any(i.family in ("sigmoid", "tanh") for i in info.values()):
            return []
        layers, steps, sat = self.matrix(view, "activation", "saturated_frac")
        if len(steps) < self.params.min_steps:
            return []
        ordered = list(info.values())
        out = []
        for i, name in enumerate(layers):
            fam = getattr(info.get(name), "family", "other")
            if fam not in ("sigmoid", "tanh"):
                continue
            valid = np.isfinite(sat[i])
            s = sat[i][valid]
            if len(s) < self.params.min_steps:
                continue
            late = trends.level(s[len(s) // 2 :])
            if late < self.params.threshold or name in self._output_layers(view, layers):
                continue
            idx = trends.first_persistent(sat[i] >= self.params.threshold, 0.8) or 0
            feeder = previous_weight_layer(name, ordered) or name
            evidence = {"saturated_frac": late, "initial": float(s[0]), "family": fam,
                        "fed_by": feeder,
                        "first_after_input": feeder == first_weight_layer(ordered)}
            message = (f"{late:.0%} of the {fam} outputs of {name!r} are pinned at their bounds "
                       "(gradient ~0 there)")
            suggestion = (
                f"standardise the inputs, initialise {feeder!r} with xavier_uniform_ (smaller "
                f"weights), add LayerNorm/BatchNorm before {name!r}, or use ReLU/GELU units"
            )
            out.append(self.finding("warning", name, int(steps[idx]), message, evidence,
                                    suggestion))
        return out

    def _output_layers(self, view: RunView, layers: list[str]) -> set[str]:
        """Layers whose output statistics equal the root's output: the model's output layer."""
        root = root_name(view)
        if root not in layers:
            return set()
        fields = ("count", "mean", "max")
        mats = [self.matrix(view, "activation", f)[2] for f in fields]
        r = layers.index(root)
        same = set()
        for i, name in enumerate(layers):
            eq = [np.allclose(m[i], m[r], equal_nan=True, rtol=1e-9, atol=0) for m in mats]
            if all(eq) and i != r:
                same.add(name)
        return same
