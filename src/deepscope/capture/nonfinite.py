"""Locate where NaN/Inf first appeared: replay the offending forward with per-module checks.

Every training forward's output is checked with one sum. On the CPU that is read at once; on an
accelerator it is copied without blocking and read at the next forward (no per-step sync), so a
problem is seen one step later there. Only when the check fails is the forward replayed under
``no_grad`` with the same inputs and RNG state, and a hook on every leaf module records which
outputs are non-finite, in forward order. Buffers (e.g. BatchNorm running statistics) and the RNG
state are restored, so training is unaffected.

Non-finite *gradients* are judged where they are read: at the optimizer step they will corrupt the
weights (certain). Read at the end of backward with no optimizer known, they may be a
``GradScaler`` overflow whose step is then skipped, so the verdict waits for the next sampled step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.capture.tensors import iter_float_tensors
from deepscope.store.schema import STAT_FIELDS

_NONFINITE = STAT_FIELDS.index("nonfinite")


def _sum(tensors: list[torch.Tensor]) -> torch.Tensor:
    if len(tensors) == 1:
        return tensors[0].detach().sum()
    return torch.stack([t.detach().sum().to(torch.float64) for t in tensors]).sum()


def all_finite(obj: Any) -> bool:
    """True when every floating tensor in ``obj`` is finite (one tiny host sync).

    A sum is finite when every element is (two ops); only when it is not is the exact check run,
    since a sum of large finite values may overflow.
    """
    tensors = list(iter_float_tensors(obj))
    if not tensors:
        return True
    if math.isfinite(_sum(tensors).item()):
        return True
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def replay_nonfinite(
    model: nn.Module,
    leaves: list[tuple[str, nn.Module]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    rng_state: torch.Tensor | None,
) -> list[str]:
    """Names of leaf modules whose output is non-finite when ``model`` is re-run on the inputs."""
    found: list[str] = []

    def make_hook(name: str):  # noqa: ANN202
        def hook(_m: nn.Module, _a: Any, out: Any) -> None:
            if name not in found and not all_finite(out):
                found.append(name)

        return hook

    # Swap every buffer for a clone during the replay (BatchNorm updates the clone), then put the
    # originals back: no in-place write on a tensor that autograd may have saved for backward.
    swapped = [
        (m, name, buf)
        for m in model.modules()
        for name, buf in m._buffers.items()
        if buf is not None
    ]
    for m, name, buf in swapped:
        m._buffers[name] = buf.detach().clone()
    current_rng = torch.get_rng_state()
    handles = [m.register_forward_hook(make_hook(n)) for n, m in leaves]
    try:
        if rng_state is not None:
            torch.set_rng_state(rng_state)
        with torch.no_grad():
            model(*args, **kwargs)
    except Exception:  # noqa: BLE001 - a failing replay still reports what it saw
        pass
    finally:
        for h in handles:
            h.remove()
        for m, name, buf in swapped:
            m._buffers[name] = buf
        torch.set_rng_state(current_rng)
    return found


class FiniteCheck:
    """The per-step output check of one watch, and the events it turns into."""

    def __init__(self, save_rng: bool = True) -> None:
        self.reported = False
        self._save_rng = save_rng
        self._call: tuple[tuple[Any, ...], dict[str, Any], torch.Tensor | None] = ((), {}, None)
        self._bad_call = self._call
        self._pending: tuple[torch.Tensor, Any, tuple] | None = None  # (host flag, event, call)
        self._deferred: dict[str, Any] | None = None

    def before_forward(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._call = (args, kwargs, torch.get_rng_state() if self._save_rng else None)

    def last_call(self) -> tuple[tuple[Any, ...], dict[str, Any], torch.Tensor | None]:
        """Inputs and RNG state of the forward found non-finite."""
        return self._bad_call

    def after_forward(self, output: Any) -> bool:
        """False when the output of this (CPU) or the previous (accelerator) forward is bad."""
        if type(output) is torch.Tensor and output.device.type == "cpu":  # the common case
            if not output.is_floating_point() or math.isfinite(output.detach().sum().item()):
                return True
            self._bad_call = self._call
            return bool(torch.isfinite(output).all())
        tensors = list(iter_float_tensors(output))
        if not tensors:
            return True
        if tensors[0].device.type == "cpu":
            self._bad_call = self._call
            return all_finite(tensors)
        ok = self._poll()
        flag = torch.isfinite(_sum(tensors)).reshape(1)
        host = torch.empty(1, dtype=torch.bool, pin_memory=True)
        host.copy_(flag, non_blocking=True)
        event = torch.cuda.Event() if tensors[0].device.type == "cuda" else None
        if event is not None:
            event.record()
        self._pending = (host, event, self._call)
        return ok

    def _poll(self) -> bool:
        if self._pending is None:
            return True
        host, event, call = self._pending
        if event is not None and not event.query():
            return True  # not done yet: looked at next time
        self._pending = None
        if bool(host.item()):
            return True
        self._bad_call = call
        return False

    def forward_event(
        self, step: int, modules: list[str], root: str, layers: Sequence[Any]
    ) -> dict[str, Any]:
        """The ``nonfinite`` event of a bad forward (first module in forward order)."""
        self.reported = True
        args, kwargs, _ = self.last_call()
        input_bad = not all_finite((args, kwargs))
        order = {lay.name: i for i, lay in enumerate(layers)}
        layer = modules[0] if modules else root
        return {
            "kind": "nonfinite",
            "step": step,
            "layer": layer,
            "data": {
                "source": "input" if input_bad else "activation",
                "modules": modules[:10],
                "input_nonfinite": input_bad,
                "registration_index": order.get(layer),
            },
        }

    def grad_event(
        self,
        step: int,
        rows: list[tuple[str, str, np.ndarray]],
        forward_order: dict[str, int],
        layers: Sequence[Any],
        deferred: bool,
    ) -> dict[str, Any] | None:
        """A ``nonfinite`` event for gradients/weights/updates of a sampled step, if any."""
        order = {lay.name: i for i, lay in enumerate(layers)}
        bad = [(lay, kind) for lay, kind, v in rows
               if kind in ("grad", "weight", "update") and v[_NONFINITE] > 0]
        if not bad:
            if self._deferred is not None and deferred:
                # The gradients recovered with no weight harmed: an overflow the step skipped.
                self._deferred = None
                return {"kind": "optimizer_step_skipped", "step": step, "layer": None,
                        "data": {"reason": "non-finite gradients at an earlier step recovered"}}
            return None
        # Backward runs in reverse: the non-finite gradient that appeared first is the one of the
        # last layer in forward order.
        bad.sort(key=lambda lk: (-forward_order.get(lk[0], order.get(lk[0], 0)), lk[1]))
        event = {
            "kind": "nonfinite",
            "step": step,
            "layer": bad[0][0],
            "data": {"source": bad[0][1], "modules": [b[0] for b in bad[:10]]},
        }
        only_grads = all(kind == "grad" for _, kind in bad)
        if deferred and only_grads and self._deferred is None:
            self._deferred = event
            return None
        self.reported = True
        return self._deferred or event

    def flush_deferred(self) -> dict[str, Any] | None:
        """At the end of a watch, a deferred gradient verdict becomes an event."""
        event, self._deferred = self._deferred, None
        if event is not None and not self.reported:
            self.reported = True
            return event
        return None
