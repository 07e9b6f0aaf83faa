"""Gradients, updates and carried gradients of a sampled step.

Gradients are read when the optimizer is about to use them (after accumulation, after
``GradScaler.unscale_``), or at the end of the backward that runs inside ``step(closure)``;
updates are ``after - before`` around the optimizer step. Carried gradients: between two optimizer
steps, the first backward that reaches a parameter must find its ``.grad`` empty (``None`` or all
zeros); a tensor hook on the parameter sees ``.grad`` just before that backward accumulates into it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from deepscope.capture.distributed import local_tensor
from deepscope.capture.stats import LARGE, StepStats, host_copy, sample_index


class LayerParams(Protocol):
    """A watched layer as seen here: a name and its own parameters."""

    name: str
    params: list[tuple[str, nn.Parameter]]


def trainable(layer: LayerParams) -> list[nn.Parameter]:
    return [p for _, p in layer.params if p.requires_grad]


def _grad(p: nn.Parameter) -> torch.Tensor | None:
    g = p.grad
    return None if g is None or g.is_sparse else local_tensor(g)


def add_grads(stats: StepStats, layers: Iterable[LayerParams]) -> None:
    """One ``grad`` row per layer with trainable parameters (``count = 0`` when none has one)."""
    for lay in layers:
        params = trainable(lay)
        if not params:
            continue
        grads = [g for g in map(_grad, params) if g is not None]
        if grads:
            stats.add(lay.name, "grad", grads)
        else:
            stats.add_missing(lay.name, "grad")


def any_grad(layers: Iterable[LayerParams]) -> bool:
    """Whether some trainable parameter holds a gradient (a cheap host-side check)."""
    return any(p.grad is not None for lay in layers for p in trainable(lay))


def flat(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """Tensors as one flat vector (a single tensor is not copied)."""
    parts = [t.detach().reshape(-1) for t in tensors]
    if len(parts) == 1:
        return parts[0]
    dtypes = {t.dtype for t in parts}
    dtype = torch.promote_types(*dtypes) if len(dtypes) > 1 else parts[0].dtype
    return torch.cat([t.to(dtype) for t in parts])


def in_optimizer(layer: LayerParams, ids: set[int]) -> list[nn.Parameter]:
    return [p for _, p in layer.params if id(p) in ids]


def _small_cpu(params: Sequence[nn.Parameter]) -> bool:
    return sum(p.numel() for p in params) < LARGE and all(p.device.type == "cpu" for p in params)


def _float(t: torch.Tensor) -> torch.Tensor:
    # bf16/fp16 differences are exact in float32 (an update that rounds away stays exactly 0).
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


#: Per layer: a host copy of its optimised parameters (small CPU layers), or per parameter
#: ``(param, before, sample positions or None)`` (large parameters are known by a sample).
Snapshot = dict[str, Any]


def weights_and_snapshot(
    stats: StepStats, layers: Iterable[LayerParams], ids: set[int]
) -> Snapshot:
    """Weight rows (unless already recorded) and what updates need, taken just before the step.

    Small CPU layers share one host copy for both. A large parameter's update is known from
    the fixed sample of :func:`~deepscope.capture.stats.sample_index` (no full copy of the
    model: for GPT-2 small that would be 500 MB and two more passes).
    """
    out: Snapshot = {}
    for lay in layers:
        params = [local_tensor(p) for _, p in lay.params]
        if not params:
            continue
        opt = [local_tensor(p) for p in in_optimizer(lay, ids)]
        need_weight = (lay.name, "weight") not in stats
        if _small_cpu(params):
            every = host_copy(params)
            if need_weight:
                stats.add_array(lay.name, "weight", every)
            if opt:
                out[lay.name] = every if len(opt) == len(params) else host_copy(opt)
            continue
        if need_weight:
            stats.add(lay.name, "weight", params)
        pieces = []
        for p in opt:
            f = p.detach().reshape(-1)
            if f.numel() >= LARGE:
                idx = sample_index(f.numel(), f.device)
                pieces.append((p, _float(f.index_select(0, idx)), idx))
            else:
                pieces.append((p, _float(f).clone(), None))
        if pieces:
            out[lay.name] = pieces
    return out


def add_updates(
    stats: StepStats, layers: Iterable[LayerParams], before: Snapshot, ids: set[int]
) -> None:
    """``update`` rows (``after - before``) and their ratio to the weights' norm."""
    for lay in layers:
        prev = before.get(lay.name)
        if prev is None:
            continue
        if isinstance(prev, np.ndarray):
            now = host_copy([local_tensor(p) for p in in_optimizer(lay, ids)])
            stats.add_array(lay.name, "update", now - prev)
        else:
            # The largest parameter first: its update gets the layer's histogram.
            for p, old, idx in sorted(prev, key=lambda piece: -piece[0].numel()):
                f = p.detach().reshape(-1)
                if idx is None:
                    stats.add(lay.name, "update", _float(f) - old)
                else:
                    stats.add_sample(lay.name, "update", _float(f.index_select(0, idx)) - old,
                                     f.numel())
        stats.ratio(lay.name, "update", "weight")


class CarriedGradCheck:
    """Tensor hooks on trainable parameters for one optimizer-step interval.

    A parameter's gradient is *carried* when the interval's first backward found its ``.grad``
    non-empty and no later backward in the interval found it empty again (``zero_grad`` between
    two backwards is a reset: a GAN's generator loss may flow into the discriminator's
    gradients after the discriminator stepped, before it zeroes them). ``None`` is seen on the
    host; an all-zero ``.grad`` (``set_to_none=False``) only on the device, so the verdict stays
    there until the step's one transfer.

    Example:
        >>> import torch
        >>> lin = torch.nn.Linear(2, 1)
        >>> lin(torch.ones(1, 2)).sum().backward()  # a gradient left over from before
        >>> check = CarriedGradCheck([("lin", [lin.weight, lin.bias])])
        >>> lin(torch.ones(1, 2)).sum().backward()
        >>> check.remove(); check.carried_layers()
        ['lin']

    """

    def __init__(self, layers: Sequence[tuple[str, Sequence[nn.Parameter]]]):
        # Per parameter: the norm found at the first backward (None: it was empty) and the norms
        # found at later ones (a zero means the gradient was reset in between).
        self._first: dict[int, torch.Tensor | None] = {}
        self._later: dict[int, list[torch.Tensor]] = {}
        self._layer_of: dict[int, str] = {}
        self._handles = []
        for name, params in layers:
            for p in params:
                self._layer_of[id(p)] = name
                self._handles.append(p.register_hook(self._make_hook(p)))

    def _make_hook(self, param: nn.Parameter) -> Any:
        key = id(param)

        def hook(_grad: torch.Tensor) -> None:
            old = param.grad
            if key not in self._first:
                self._first[key] = None if old is None or old.is_sparse else _norm(old)
            elif self._first[key] is not None:
                if old is None:
                    self._first[key] = None  # reset to None between two backwards
                else:
                    self._later.setdefault(key, []).append(_norm(old))

        return hook

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def stacked(self) -> tuple[list[str], torch.Tensor | None]:
        """Layer names and their carried gradient norms as one device tensor (no sync)."""
        per_layer: dict[str, list[torch.Tensor]] = {}
        for key, first in self._first.items():
            if first is None:
                continue
            later = self._later.get(key)
            kept = first if not later else first * (torch.stack(later) > 0).all()
            per_layer.setdefault(self._layer_of[key], []).append(kept)
        if not per_layer:
            return [], None
        names = list(per_layer)
        return names, torch.stack([torch.stack(per_layer[n]).norm() for n in names])

    def carried_layers(self) -> list[str]:
        """Layers whose gradient was carried into this interval (synchronises; tests, CPU)."""
        names, norms = self.stacked()
        if norms is None:
            return []
        return [n for n, v in zip(names, norms.tolist(), strict=True) if v > 0]

    @property
    def reached(self) -> int:
        """How many layers a backward reached in this interval."""
        return len({self._layer_of[k] for k in self._first})


def _norm(t: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(t.detach().float())
