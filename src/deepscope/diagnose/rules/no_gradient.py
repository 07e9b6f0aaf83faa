"""``no_gradient``: trainable parameters that never receive a gradient."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose.base import Finding, LayerTrendRule
from deepscope.diagnose.rules._layers import drop_ancestors
from deepscope.diagnose.view import as_view
from deepscope.store.reader import RunReader


class NoGradient(LayerTrendRule):
    """Trainable parameters (``requires_grad=True``) whose ``.grad`` stays None.

    Mechanism: capture writes a ``grad`` row with ``count = 0`` when trainable parameters of a
    layer got no gradient at a sampled step. The rule compares layers only on steps where some
    other layer did get a gradient (so the steps before the first backward do not count) and
    fires when a layer got none on all of at least ``min_steps`` such steps. A gradient that
    exists but is zero (dead ReLUs downstream) is not this problem. Typical causes: ``.detach()``
    or ``torch.no_grad()`` around the layer, an output that never reaches the loss, a module
    that is defined but not called. Evidence: ``trainable_params``, ``steps_without_grad``,
    ``params`` (names). Suggestion: find the break in the graph or freeze the layer explicitly.

    Example:
        >>> NoGradient.Params().min_steps
        3

    """

    code = "no_gradient"
    requires = ("grad",)
    live = True
    min_live_steps = 3

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            min_steps: sampled steps with gradients elsewhere on which the layer must have none.

        """

        min_steps: int = 3

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        layers, steps, count = self.matrix(view, "grad", "count")
        if not layers:
            return []
        has = np.nan_to_num(count, nan=0.0) > 0
        info = self.layer_info(view)
        hits = []
        for i, name in enumerate(layers):
            meta = info.get(name)
            if meta is None or meta.trainable_params <= 0:
                continue
            others = np.delete(has, i, axis=0).any(axis=0) if len(layers) > 1 else has[i] & False
            if others.sum() < self.params.min_steps or has[i][others].any():
                continue
            hits.append(name)
        out = []
        for name in drop_ancestors(hits):
            i = layers.index(name)
            others = np.delete(has, i, axis=0).any(axis=0)
            meta = info[name]
            params = [p["name"] for p in meta.params if p.get("requires_grad", True)]
            evidence = {
                "trainable_params": meta.trainable_params,
                "steps_without_grad": int(others.sum()),
                "params": params,
            }
            message = (f"{name!r} has {meta.trainable_params} trainable parameters that never "
                       f"received a gradient ({int(others.sum())} sampled steps)")
            suggestion = (
                f"check the forward pass for .detach(), torch.no_grad() or .item() on the output "
                f"of {name!r}, or an output that never reaches the loss; if {name!r} is unused, "
                "remove it or freeze it with requires_grad_(False)"
            )
            step = int(steps[np.flatnonzero(others)[0]])
            out.append(self.finding("warning", name, step, message, evidence, suggestion))
        return out
