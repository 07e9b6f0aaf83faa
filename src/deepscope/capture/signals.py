"""Training-bug signals of a sampled step, turned into capture events when the step ends.

Each is measured on tensors the step already touches and travels to the host with the step's one
transfer (:meth:`StepStats.probe`); events are written only for a step that really trained, so an
evaluation pass with gradients enabled is never mistaken for training.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepscope.capture.gradients import CarriedGradCheck
from deepscope.capture.stats import StatRow, StepStats
from deepscope.store.schema import STAT_FIELDS

_NORM = STAT_FIELDS.index("norm")
#: Rows whose last dimension sums to 1 within this are probability distributions.
PROBABILITY_TOLERANCE = 1e-3


@dataclass
class StepSignals:
    """What one sampled step showed beyond its statistics."""

    modes: dict[str, Any] | None = None
    skipped: bool = False
    carried_layers: list[str] = field(default_factory=list)
    reached: int = 0

    def carried(self, stats: StepStats, check: CarriedGradCheck) -> None:
        """Queue the left-over gradient norms of this interval for the step's transfer."""
        names, norms = check.stacked()
        self.reached = check.reached
        if norms is not None:
            self.carried_layers = names
            stats.probe("carried", norms)

    def events(
        self, stats: StepStats, rows: list[StatRow], trained: bool, root: str,
        order: dict[str, int] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Events of the step (after :meth:`StepStats.collect`); layers listed in ``order``."""
        step = stats.step
        if self.skipped:
            yield _event("optimizer_step_skipped", step, None,
                         {"reason": "gradients were reset without an optimizer step "
                                    "(GradScaler overflow or a skipped step)"})
        if not trained:
            return
        if self.modes is not None:
            yield _event("eval_mode", step, (self.modes["modules"] or [root])[0], self.modes)
        prob = stats.probes.get("probability")
        if prob is not None and prob[0] >= 0 and prob[1] <= PROBABILITY_TOLERANCE:
            yield _event("probability_outputs", step, root,
                         {"width": int(prob[2]), "max_row_dev": float(prob[1]),
                          "min": float(prob[0])})
        carried = stats.probes.get("carried")
        if carried is not None and (carried > 0).any():
            layers = [n for n, v in zip(self.carried_layers, carried, strict=True) if v > 0]
            layers.sort(key=lambda n: (order or {}).get(n, 0))
            grad_norm = float(np.sqrt(sum(
                v[_NORM] ** 2 for lay, kind, v in rows
                if kind == "grad" and lay in layers and np.isfinite(v[_NORM])
            )))
            yield _event("grads_not_zeroed", step, layers[0], {
                "layers": layers[:20],
                "layers_with_grad": len(layers),
                "layers_checked": self.reached,
                "carried_norm": float(np.sqrt((carried**2).sum())),
                "grad_norm": grad_norm,
            })


def _event(kind: str, step: int, layer: str | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "step": step, "layer": layer, "data": data}


def nothing_captured(watcher: Any, log_calls: int) -> dict[str, Any]:
    """The ``nothing_captured`` finding (a dict in the stored finding shape) of a silent watch."""
    model = type(watcher.model).__name__
    who = f"{watcher.name!r} ({model})" if watcher.name else model
    if watcher.untrained_forwards:
        why = (f"its {watcher.untrained_forwards} forward(s) all ran without gradients "
               "(torch.no_grad / inference_mode), so none was a training step")
    elif watcher.optimizer is not None:
        why = ("its optimizer may have stepped, but no forward of the watched model ran: the "
               "training loop calls another module (a copy, or a model built after watch)")
    else:
        why = "no forward of the watched model ran (watch() came after training, or another "
        why += "model instance is trained)"
    return {
        "code": "nothing_captured",
        "severity": "error",
        "layer": None,
        "step": None,
        "message": f"Nothing was captured for the watched model {who}: {why}; no layer "
                   f"statistics were recorded ({log_calls} log call(s)).",
        "evidence": {
            "model": model,
            "watch": watcher.name,
            "training_forwards": watcher.training_forwards,
            "forwards_without_grad": watcher.untrained_forwards,
            "log_calls": log_calls,
            "optimizer": type(watcher.optimizer).__name__ if watcher.optimizer else None,
        },
        "suggestion": "call run.watch() on the module your training step actually calls, "
                      "before training starts, and run training forwards with gradients enabled",
    }
