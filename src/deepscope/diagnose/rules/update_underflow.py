"""``update_underflow``: optimizer steps that leave most parameter elements bitwise unchanged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, LayerTrendRule
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader

#: Parameter dtypes whose spacing swallows small updates (bf16 keeps 8 significant bits).
LOW_PRECISION = ("torch.bfloat16", "torch.float16", "torch.float8_e4m3fn", "torch.float8_e5m2")


class UpdateUnderflow(LayerTrendRule):
    """Updates below half the spacing of the weights round away: the step changes nothing.

    Mechanism: capture records, per layer and sampled step, the exact-zero share of the
    optimizer's update (``update`` rows, ``after - before``) next to that of the gradient
    (``grad`` rows). Elements whose gradient is zero may legitimately stay put, so
    ``max(0, update_zero - grad_zero)`` is a lower bound of the share of elements that had a
    gradient and still did not move. Weighted by element count over every layer, that share
    must exceed ``share`` on ``persist`` of the sampled steps. bf16 keeps 8 significant bits:
    an Adam step of lr 1e-5 vanishes against any weight above ~2.6e-3 in magnitude. Layers whose
    update is exactly zero at every sampled step in float32 are a param group with lr 0
    (``frozen_parameters``) and are left out; in bf16/fp16 they count. Measured: healthy
    scenarios at most 0.30 (pure bf16 weights at lr 2e-3, where the largest weights round some
    steps away), ~0 for float32 and for autocast with fp32 master weights; float32 runs that are
    broken otherwise up to 0.36 (a deep sigmoid net whose vanishing gradients do round away);
    bf16 weights at lr 1e-5..1e-3 (SGD) 0.89-0.99. Evidence: ``share``, ``steps_share``,
    ``layers`` (the worst layers and their shares), ``dtype``. Suggestion: keep fp32 master
    weights (autocast) or raise the learning rate.

    Example:
        >>> UpdateUnderflow.Params().share
        0.5

    """

    code = "update_underflow"
    requires = ("update", "grad")

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            share: element-weighted share of unchanged elements with a gradient.
            persist: share of sampled steps (with updates) on which it must hold.
            min_steps: sampled steps with updates needed.

        """

        share: float = 0.5
        persist: float = 0.5
        min_steps: int = 3

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        found = self._unchanged(view)
        if found is None:
            return []
        names, steps, counts, stuck = found
        p = self.params
        total = np.nansum(counts * stuck, axis=0) / np.maximum(np.nansum(counts, axis=0), 1)
        valid = np.isfinite(stuck).any(axis=0)
        if valid.sum() < p.min_steps:
            return []
        over = (total >= p.share) & valid
        frac = trends.share(over, valid)
        if frac < p.persist:
            return []
        return [self._finding(view, names, steps, counts, stuck, total, frac, over)]

    def _unchanged(self, view: RunView) -> tuple[list[str], np.ndarray, np.ndarray,
                                                 np.ndarray] | None:
        """Layers, steps, element counts and lower-bound unchanged shares (layers x steps)."""
        layers, steps, uz = self.matrix(view, "update", "zero_frac")
        # The unchanged share is at most the update's zero share: no layer can reach the
        # threshold when no update is that sparse (skips the other reads on healthy runs).
        if not layers or not len(steps) or not np.nanmax(uz, initial=0.0) >= self.params.share:
            return None
        _, _, un = self.matrix(view, "update", "norm")
        _, _, uc = self.matrix(view, "update", "count")
        g = view.stat_matrix("grad", "zero_frac")
        gpos = {n: i for i, n in enumerate(g.layers)}
        cols = np.searchsorted(g.steps, steps)
        ok = (cols < len(g.steps)) & (g.steps[np.minimum(cols, len(g.steps) - 1)] == steps)
        info = self.layer_info(view)
        keep = []
        for i, name in enumerate(layers):
            always_zero = bool(np.all(np.nan_to_num(un[i]) == 0))
            if name in gpos and not (always_zero and _dtype(info.get(name)) not in LOW_PRECISION):
                keep.append(i)
        if not keep:
            return None
        gz = np.full((len(keep), len(steps)), np.nan)
        for r, i in enumerate(keep):
            gz[r, ok] = g.values[gpos[layers[i]], cols[ok]]
        with np.errstate(invalid="ignore"):
            stuck = np.clip(uz[keep] - gz, 0.0, 1.0) / np.clip(1.0 - gz, 1e-12, None)
        stuck = np.where(np.isfinite(uz[keep]) & np.isfinite(gz), np.clip(stuck, 0, 1), np.nan)
        counts = np.where(np.isfinite(stuck), uc[keep] * (1.0 - np.nan_to_num(gz)), 0.0)
        return [layers[i] for i in keep], steps, counts, stuck

    def _finding(self, view, names, steps, counts, stuck, total, frac, over) -> Finding:  # noqa: ANN001
        med = trends.level(total[over])
        lost = np.nansum(counts * np.nan_to_num(stuck), axis=1)
        order = np.argsort(-lost)
        worst = names[int(order[0])]
        dtype = _dtype(self.layer_info(view).get(worst))
        low = dtype in LOW_PRECISION
        evidence = {
            "share": med,
            "steps_share": frac,
            "layers": {names[i]: trends.level(stuck[i]) for i in order[:5]},
            "dtype": dtype,
        }
        idx = int(np.flatnonzero(over)[0])
        kind = dtype.replace("torch.", "") if dtype else "low-precision"
        message = (f"optimizer steps leave {med:.0%} of the parameter elements that have a "
                   f"gradient bitwise unchanged (on {frac:.0%} of sampled steps; worst: "
                   f"{worst!r}, {kind} weights): the updates are smaller than half the spacing "
                   "of the weights and round away")
        if low or dtype is None:
            suggestion = ("keep fp32 master weights: leave the model in float32 and train under "
                          "torch.autocast(device_type, dtype=torch.bfloat16), or raise the "
                          "learning rate")
        else:
            suggestion = "raise the learning rate: the updates are below float32 resolution"
        return self.finding("warning", worst, int(steps[idx]), message, evidence, suggestion)


def _dtype(info) -> str | None:  # noqa: ANN001
    """The dtype of a layer's first parameter (``LayerInfo.params[*]["dtype"]``), if recorded."""
    if info is None:
        return None
    return next((str(p["dtype"]) for p in info.params if p.get("dtype")), None)
