"""``frozen_parameters``: parameters that get gradients but never change."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, LayerTrendRule
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader

#: Weight statistics compared across steps (any real update moves the norm or an extreme).
_STATS = ("norm", "min", "max")


class FrozenParameters(LayerTrendRule):
    """Parameters that receive gradients but never move: missing from the optimizer.

    Mechanism: the weight statistics (norm, min, max) of a layer are compared across all
    sampled steps; "unchanged" means a relative change below ``tolerance`` (float32 storage makes
    any real update visible far above it). A layer fires when it is unchanged while it gets
    non-zero gradients on ``min_steps`` samples, and
    * with an optimizer given to ``watch``: some of its trainable parameters are not in the
      optimizer (``LayerInfo.params[*].in_optimizer`` is false);
    * or its parameters are in the optimizer but every recorded update is exactly zero (a
      param group with lr 0) while the gradient is at least ``grad`` of the weight norm;
    * without an optimizer given: other layers of the same model do change by more than
      ``moving`` (so the whole run is not simply stalled; that is ``loss_plateau``).
    Evidence: ``params`` (names missing from the optimizer, or all), ``grad_norm``,
    ``weight_change``. Suggestion: add the parameters to the optimizer, or freeze them.

    Example:
        >>> FrozenParameters.Params().min_steps
        3

    """

    code = "frozen_parameters"
    requires = ("weight", "grad")
    live = True
    min_live_steps = 3

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            tolerance: relative change of weight statistics that still counts as unchanged.
            moving: relative change of another layer that shows the model does train.
            grad: for parameters that are in the optimizer (lr 0), gradient / weight norm needed
                so that any learning rate >= 1e-5 would visibly move them.
            min_steps: sampled steps with non-zero gradient needed.

        """

        tolerance: float = 1e-9
        moving: float = 1e-6
        grad: float = 1e-3
        min_steps: int = 3

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        change, layers, steps = self._changes(view)
        if change is None or len(steps) < self.params.min_steps:
            return []
        _, gsteps, gnorm = self.matrix(view, "grad", "norm")
        gpos = {n: i for i, n in enumerate(self.matrix(view, "grad", "norm")[0])}
        info = self.layer_info(view)
        moving = change > self.params.moving
        out = []
        for i, name in enumerate(layers):
            meta = info.get(name)
            if meta is None or meta.trainable_params <= 0 or change[i] > self.params.tolerance:
                continue
            g = gnorm[gpos[name]] if name in gpos else np.zeros(0)
            if int((np.nan_to_num(g) > 0).sum()) < self.params.min_steps:
                continue
            missing = [p["name"] for p in meta.params
                       if p.get("requires_grad", True) and p.get("in_optimizer") is False]
            known = any(p.get("in_optimizer") is not None for p in meta.params)
            others_move = bool(np.delete(moving, i).any())
            if known and not missing and not (others_move and self._zero_lr(view, name, g)):
                continue
            if not known and not others_move:
                continue
            out.append(self._finding(name, int(steps[0]), missing, meta, g, change[i]))
        return out

    def _zero_lr(self, view: RunView, name: str, g: np.ndarray) -> bool:
        """In the optimizer but never updated (a param group with lr 0), with real gradients."""
        if not view.has("update"):
            return False
        m = view.stat_matrix("update", "norm")
        if name not in m.layers:
            return False
        upd = m.values[m.layers.index(name)]
        w = self.matrix(view, "weight", "norm")
        wn = trends.level(w[2][w[0].index(name)])
        return bool(np.all(np.nan_to_num(upd) == 0) and trends.level(g) >= self.params.grad * wn)

    def _changes(self, view: RunView) -> tuple[np.ndarray | None, list[str], np.ndarray]:
        """Largest relative change of each layer's weight statistics over the sampled steps."""
        layers, steps, _ = self.matrix(view, "weight", _STATS[0])
        if not layers or len(steps) < 2:
            return None, layers, steps
        change = np.zeros(len(layers))
        for stat in _STATS:
            if stat != _STATS[0] and not (change <= self.params.tolerance).any():
                break  # every layer already moved: the other statistics cannot change that
            v = self.matrix(view, "weight", stat)[2]
            with np.errstate(invalid="ignore", divide="ignore"):
                ref = np.nanmax(np.abs(v), axis=1)
                span = np.nanmax(v, axis=1) - np.nanmin(v, axis=1)
                rel = np.where(ref > 0, span / ref, 0.0)
            change = np.maximum(change, np.nan_to_num(rel, nan=0.0))
        return change, layers, steps

    def _finding(self, name, step, missing, meta, g, change) -> Finding:  # noqa: ANN001
        names = missing or [p["name"] for p in meta.params if p.get("requires_grad", True)]
        evidence = {
            "params": names,
            "in_optimizer": None if not missing else False,
            "grad_norm": float(np.nanmedian(g)) if len(g) else None,
            "weight_change": change,
        }
        why = "are not in the optimizer" if missing else "never change (learning rate 0?)"
        message = (f"parameters of {name!r} ({', '.join(names)}) get gradients but {why}: "
                   "the layer does not train")
        suggestion = (
            f"add the parameters of {name!r} to the optimizer (build it from "
            f"model.parameters(), or opt.add_param_group({{'params': "
            f"model.get_submodule({name!r}).parameters()}})); "
            "if the freeze is intended, call requires_grad_(False) on them"
        )
        return self.finding("warning", name, step, message, evidence, suggestion)
