"""Locate where NaN/Inf first appeared: replay the offending forward with per-module checks.

The per-step check is one ``isfinite().all()`` on the model output (one tiny host sync). Only
when it fails is the forward replayed under ``no_grad`` with the same inputs and RNG state, and a
hook on every leaf module records which outputs are non-finite, in forward order. Buffers (e.g.
BatchNorm running statistics) and the RNG state are restored, so training is unaffected.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from deepscope.capture.tensors import iter_float_tensors


def all_finite(obj: Any) -> bool:
    """True when every floating tensor in ``obj`` is finite (one tiny host sync).

    A sum is finite when every element is (two ops); only when it is not is the exact check run,
    since a sum of large finite values may overflow.
    """
    tensors = list(iter_float_tensors(obj))
    if not tensors:
        return True
    total = (
        tensors[0].detach().sum()
        if len(tensors) == 1
        else torch.stack([t.detach().sum().to(torch.float64) for t in tensors]).sum()
    )
    if math.isfinite(total.item()):
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
