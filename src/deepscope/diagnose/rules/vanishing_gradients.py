"""``vanishing_gradients``: early layers get gradients orders of magnitude below later ones."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, LayerTrendRule
from deepscope.diagnose.rules._layers import is_dense
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader

_INDEX = re.compile(r"\d+")


def role(name: str) -> str:
    """A layer's role: its name with every index replaced (``h.3.attn`` -> ``h.#.attn``).

    Example:
        >>> role("bert.encoder.layer.11.attention.self.query"), role("fc2")
        ('bert.encoder.layer.#.attention.self.query', 'fc#')

    """
    return _INDEX.sub("#", name)


def chains(names: list[str], min_layers: int) -> list[list[int]]:
    """Groups of layers that play the same role at increasing depth, in forward order.

    Like is compared with like: the query projections of blocks 0..11, the convolutions
    ``convs.0..5``, the layers ``fc1..fc3``. A model with no repeated role at all (``inp``,
    ``hidden``, ``out``) is one chain. Roles seen fewer than ``min_layers`` times form none.

    Example:
        >>> chains(["l.0.q", "l.0.v", "l.1.q", "l.1.v", "l.2.q", "l.2.v", "head"], 3)
        [[0, 2, 4], [1, 3, 5]]
        >>> chains(["l.0.q", "l.1.q", "pooler", "classifier"], 3)
        []

    """
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        groups.setdefault(role(name), []).append(i)
    if all(len(g) == 1 for g in groups.values()):
        return [list(range(len(names)))] if len(names) >= min_layers else []
    return [g for g in groups.values() if len(g) >= min_layers]


class VanishingGradients(LayerTrendRule):
    """Early layers whose gradients are orders of magnitude below those of the same role deeper.

    Mechanism: dense weight layers (Linear, Conv, RNN; embeddings and normalisation layers follow
    other laws and are skipped; layers whose gradient is exactly zero are left to ``dead_units`` /
    ``no_gradient``) are grouped by role (:func:`chains`): the same projection in every block,
    ``fc1..fc3``, the layers of a plain stack. Different roles legitimately get very different
    gradients: in a tiny BERT reaching 97-99% accuracy the attention queries get 2e-5..8e-5x the
    classifier's gradient (uniform attention at init, LayerNorm in between), which is no sign of
    vanishing. Within each chain, the relative gradient ``rms(g) / rms(w)`` per sampled step (raw
    ``rms(g)`` when weights are not recorded) of the first layer is divided by that of the last; the
    ratio must stay below ``ratio`` on ``persist`` of the samples. Glorot & Bengio (2010): with
    sigmoid units each layer shrinks the back-propagated signal by up to 4x, so ten layers lose ~6
    orders of magnitude; healthy networks with sane init keep the ratio within two orders (measured
    on the healthy scenarios, 3 seeds: lowest median 0.017, a GAN generator; a raw-target regression
    0.05; the rest >= 0.11; the vanishing ones at most 1.1e-3). Evidence: ``first_layer``,
    ``last_layer``, ``ratio`` (median), ``share`` of samples below the threshold, ``role``.
    Suggestion: ReLU-family units, kaiming init, normalisation or residual connections.

    Example:
        >>> VanishingGradients.Params().ratio
        0.005

    """

    code = "vanishing_gradients"
    requires = ("grad",)

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            ratio: first / last relative gradient in a chain below which gradients vanish
                (healthy scenarios: >= 0.017, vanishing ones: <= 1.1e-3).
            persist: share of sampled steps on which it must hold.
            min_steps: sampled steps needed.
            min_layers: layers of one role needed (a 2-layer chain cannot show vanishing).

        """

        ratio: float = 5e-3
        persist: float = 0.75
        min_steps: int = 4
        min_layers: int = 3

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        p = self.params
        layers, steps, g = self._relative_grads(view)
        if len(steps) < p.min_steps:
            return []
        worst: tuple[float, float, int, int, np.ndarray] | None = None
        for chain in chains(layers, p.min_layers):
            rows = [i for i in chain if np.isfinite(g[i]).mean() >= 0.5]
            if len(rows) < p.min_layers:
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = g[rows[0]] / g[rows[-1]]
            valid = np.isfinite(ratio)
            frac = trends.share(ratio < p.ratio, valid)
            if valid.sum() < p.min_steps or frac < p.persist:
                continue
            med = trends.level(ratio)
            if worst is None or med < worst[0]:
                worst = (med, frac, rows[0], rows[-1], ratio)
        if worst is None:
            return []
        return [self._finding(view, layers, steps, g, worst)]

    def _relative_grads(self, view: RunView) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Dense layers and their gradient rms per step, divided by their weight rms."""
        layers, steps, norm = self.matrix(view, "grad", "norm")
        _, _, count = self.matrix(view, "grad", "count")
        info = self.layer_info(view)
        keep = [i for i, n in enumerate(layers) if is_dense(info.get(n))]
        g = trends.rms(norm[keep], count[keep])
        g = np.where(g > 0, g, np.nan)  # exact zeros: not vanishing but dead / disconnected
        names = [layers[i] for i in keep]
        if view.has("weight"):
            m = view.stat_matrix("weight", "norm")
            c = view.stat_matrix("weight", "count")
            pos = {n: i for i, n in enumerate(m.layers)}
            cols = np.searchsorted(m.steps, steps)
            if len(steps) and np.all(cols < len(m.steps)) and np.all(m.steps[cols] == steps):
                for r, name in enumerate(names):
                    if name in pos:
                        w = trends.rms(m.values[pos[name], cols], c.values[pos[name], cols])
                        with np.errstate(invalid="ignore", divide="ignore"):
                            g[r] = np.where(w > 0, g[r] / w, g[r])
        return names, steps, g

    def _finding(self, view, layers, steps, g, worst) -> Finding:  # noqa: ANN001
        med, frac, first, last, ratio = worst
        first_name, last_name = layers[first], layers[last]
        idx = trends.first_persistent((ratio < self.params.ratio) & np.isfinite(ratio),
                                      self.params.persist) or 0
        evidence = {
            "first_layer": first_name,
            "last_layer": last_name,
            "role": role(first_name),
            "ratio": med,
            "share": frac,
            "first_grad_to_weight": trends.level(g[first]),
            "last_grad_to_weight": trends.level(g[last]),
        }
        message = (
            f"gradients of {first_name!r} are {med:.1e}x those of {last_name!r} (same role, "
            f"relative to their weights) on {frac:.0%} of sampled steps: early layers barely learn"
        )
        suggestion = (
            f"replace sigmoid/tanh between {first_name!r} and {last_name!r} with ReLU/GELU, "
            "initialise with kaiming_normal_ (or xavier_uniform_ for tanh), and add "
            "BatchNorm/LayerNorm or residual connections"
        )
        return self.finding("warning", first_name, int(steps[idx]), message, evidence, suggestion)
