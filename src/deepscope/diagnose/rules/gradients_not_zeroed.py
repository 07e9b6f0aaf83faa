"""``gradients_not_zeroed``: gradients carried from one optimizer step into the next."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepscope.diagnose.base import EventRule, Finding
from deepscope.diagnose.view import RunView
from deepscope.store.records import Event


class GradientsNotZeroed(EventRule):
    """The optimizer keeps applying the sum of all past gradients: ``zero_grad`` is missing.

    Mechanism: capture checks, at the first backward after an optimizer step, whether trainable
    parameters already hold a non-zero ``.grad`` that no later backward of the interval saw reset (a
    ``grads_not_zeroed`` event; legitimate accumulation, k backwards then step then zero, never
    produces one, nor does a GAN's generator loss flowing into the discriminator's gradients before
    it zeroes them). The rule fires on ``min_events`` sampled steps with such an event. Parameters
    outside the optimizer are left to ``frozen_parameters`` (``optimizer.zero_grad()`` only clears
    the parameters it owns, so theirs pile up by design). No healthy run produces a single event
    (measured: 0 on 67 healthy runs, accumulation, checkpointing, AMP and a GAN among them); a
    forgotten ``zero_grad`` produces one on 6-11 sampled steps of a 60-100-step run. It is certain
    from the events, so it runs live. Evidence: ``steps``, ``layers``, ``layers_with_grad``,
    ``layers_checked``, ``carried_norm`` and ``grad_norm`` (what the optimizer then saw).
    Suggestion: call ``optimizer.zero_grad(set_to_none=True)`` every step.

    Example:
        >>> GradientsNotZeroed.Params().min_events
        2

    """

    code = "gradients_not_zeroed"
    event = "grads_not_zeroed"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            min_events: sampled steps with carried gradients needed (two: the default schedule
                samples steps 0, 1, 2, so a forgotten ``zero_grad`` is certain by step 2).

        """

        min_events: int = 2

    def judge(
        self, view: RunView | None, events: list[Event], sampled: np.ndarray | None
    ) -> list[Finding]:
        outside = _outside_optimizer(view)
        kept = []
        for e in events:
            layers = [n for n in e.data.get("layers", []) if n not in outside]
            if layers or int(e.data.get("layers_with_grad", 0)) > len(e.data.get("layers", [])):
                kept.append((e, layers))
        if len(kept) < self.params.min_events:
            return []
        first, layers = kept[0]
        data = first.data
        with_grad = int(data.get("layers_with_grad", len(layers)))
        checked = int(data.get("layers_checked", with_grad))
        culprit = None if with_grad >= checked else (layers[0] if layers else first.layer)
        carried, seen = float(data.get("carried_norm", 0.0)), float(data.get("grad_norm", 0.0))
        evidence = {
            "steps": [int(e.step) for e, _ in kept][:20],
            "layers": layers[:20],
            "layers_with_grad": with_grad,
            "layers_checked": checked,
            "carried_norm": carried,
            "grad_norm": seen,
        }
        where = "every layer" if culprit is None else f"{with_grad} of {checked} layers"
        message = (
            f"gradients are carried from one optimizer step into the next in {where} "
            f"(sampled steps {_steps_text(evidence['steps'])}): at the first backward after a "
            f"step, .grad already held a norm of {carried:.3g}, so the optimizer applies the sum "
            "of all past gradients"
        )
        suggestion = (
            "call optimizer.zero_grad(set_to_none=True) once per optimizer step (before each "
            "step's first backward; with gradient accumulation, right after optimizer.step())"
        )
        return [self.finding("error", culprit, int(first.step), message, evidence, suggestion)]


def _outside_optimizer(view: RunView | None) -> set[str]:
    """Layers with trainable parameters missing from the optimizer (``frozen_parameters``)."""
    if view is None:
        return set()
    return {
        info.name for info in view.layers()
        if any(p.get("requires_grad", True) and p.get("in_optimizer") is False
               for p in info.params)
    }


def _steps_text(steps: list[int]) -> str:
    shown = ", ".join(str(s) for s in steps[:5])
    return shown + (", ..." if len(steps) > 5 else "")
