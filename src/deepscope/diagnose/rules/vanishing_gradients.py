"""``vanishing_gradients``: early layers get gradients orders of magnitude below later ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, LayerTrendRule
from deepscope.diagnose.rules._layers import is_dense
from deepscope.diagnose.rules._transformer import query_key_projections
from deepscope.diagnose.view import as_view
from deepscope.store.reader import RunReader


class VanishingGradients(LayerTrendRule):
    """Early layers whose gradients are orders of magnitude below those of the last layer.

    Mechanism: for every dense weight layer (Linear, Conv, RNN; embeddings and normalisation layers
    follow other laws and are skipped, and so are the query/key projections of recognised attention,
    whose gradients go through a nearly flat softmax at first) the gradient root-mean-square ``||g||
    / sqrt(n)`` is taken per sampled step; layers whose gradient is exactly zero are left to
    ``dead_units`` / ``no_gradient``. The ratio between the first and the last such layer must stay
    below ``ratio`` on ``persist`` of the samples. Glorot & Bengio (2010): with sigmoid units each
    layer shrinks the back-propagated signal by up to 4x, so ten layers lose ~6 orders of magnitude;
    healthy ReLU/tanh/GELU networks with sane init keep the ratio within one order (measured on the
    13 healthy scenarios: lowest median 0.19). Evidence: ``first_layer``, ``last_layer``, ``ratio``
    (median), ``share`` of samples below the threshold. Suggestion: ReLU-family units, kaiming init,
    normalisation or residual connections.

    Example:
        >>> VanishingGradients.Params().ratio
        0.01

    """

    code = "vanishing_gradients"
    requires = ("grad",)

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            ratio: first-layer / last-layer gradient rms below which gradients vanish (two
                orders of magnitude; healthy scenarios: >= 0.19, vanishing ones: <= 6e-4).
            persist: share of sampled steps on which it must hold.
            min_steps: sampled steps needed.
            min_layers: dense layers needed (a 2-layer net cannot show vanishing).

        """

        ratio: float = 1e-2
        persist: float = 0.75
        min_steps: int = 4
        min_layers: int = 3

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        p = self.params
        layers, steps, norm = self.matrix(view, "grad", "norm")
        _, _, count = self.matrix(view, "grad", "count")
        info = self.layer_info(view)
        query_key = query_key_projections(view, list(layers))
        keep = [i for i, n in enumerate(layers) if is_dense(info.get(n)) and n not in query_key]
        if len(keep) < p.min_layers or len(steps) < p.min_steps:
            return []
        g = trends.rms(norm[keep], count[keep])
        g = np.where(g > 0, g, np.nan)  # exact zeros: not vanishing but dead / disconnected
        alive = np.isfinite(g).mean(axis=1) >= 0.5
        rows = np.flatnonzero(alive)
        if len(rows) < p.min_layers:
            return []
        first, last = rows[0], rows[-1]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = g[first] / g[last]
        valid = np.isfinite(ratio)
        low = ratio < p.ratio
        frac = trends.share(low, valid)
        if valid.sum() < p.min_steps or frac < p.persist:
            return []
        first_name, last_name = layers[keep[first]], layers[keep[last]]
        idx = trends.first_persistent(low & valid, p.persist) or 0
        med = trends.level(ratio)
        evidence = {
            "first_layer": first_name,
            "last_layer": last_name,
            "ratio": med,
            "share": frac,
            "first_grad_rms": trends.level(g[first]),
            "last_grad_rms": trends.level(g[last]),
        }
        message = (
            f"gradients of {first_name!r} are {med:.1e}x those of {last_name!r} "
            f"on {frac:.0%} of sampled steps: early layers barely learn"
        )
        suggestion = (
            f"replace sigmoid/tanh between {first_name!r} and {last_name!r} with ReLU/GELU, "
            "initialise with kaiming_normal_ (or xavier_uniform_ for tanh), and add "
            "BatchNorm/LayerNorm or residual connections"
        )
        return [self.finding("warning", first_name, int(steps[idx]), message, evidence, suggestion)]
