"""Capture one training forward of a sampled step: activations, model inputs, output, modes.

Leaf hooks exist only while this forward runs (an unsampled step pays nothing for them). The
*model input* is what the model consumes as data: of the float tensors passed to the entry module,
those a layer actually receives (the same memory, views included). A keyword such as
``num_items_in_batch`` that no layer reads is not an input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.capture.layers import Layer
from deepscope.capture.stats import LARGE, StepStats, unit_dim_for
from deepscope.capture.tensors import (
    first_float_tensor,
    iter_float_tensors,
    output_tensor,
    tensor_storage,
)


class ForwardCapture:
    """Hooks for one forward of the entry module; :meth:`close` always removes them."""

    def __init__(
        self,
        stats: StepStats,
        layers: Sequence[Layer],
        root_name: str,
        *,
        entry: Layer | None,
        activation_grads: bool,
        note_order: Callable[[str], None],
        hooks: bool = True,
    ):
        self.stats = stats
        self.root_name = root_name
        self._note = note_order
        self._agrads = activation_grads
        # A leaf entry (a bare Linear watched, or called directly) is recorded from its own call.
        self._entry = entry if entry is not None and entry.is_leaf else None
        self._candidates: dict[int, torch.Tensor] = {}
        self._handles: list[Any] = []
        self._open = False
        self._layers = [lay for lay in layers if lay.is_leaf and lay is not entry] if hooks else []

    def open(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._open = True
        for t in iter_float_tensors((args, kwargs), limit=8):
            self._candidates.setdefault(tensor_storage(t), t)
        if self._entry is not None or not self._layers:
            self._take_inputs(list(self._candidates.values()))
        for lay in self._layers:
            self._handles.append(
                lay.module.register_forward_hook(self._make_hook(lay), with_kwargs=True)
            )

    def _take_inputs(self, tensors: list[torch.Tensor]) -> None:
        for t in tensors:
            self.stats.add(self.root_name, "input", t)
            self._candidates.pop(tensor_storage(t), None)

    def _make_hook(self, lay: Layer) -> Callable[..., None]:
        def hook(_m: nn.Module, args: Any, *rest: Any) -> None:
            # (kwargs, output), or (output,) if torch calls a hook removed during this call.
            if not self._open or torch.compiler.is_compiling():
                return
            kwargs, output = rest if len(rest) == 2 else ({}, rest[0])
            if self._candidates:
                used = [
                    self._candidates[s]
                    for s in {tensor_storage(t) for t in iter_float_tensors((args, kwargs), 4)}
                    if s in self._candidates
                ]
                if used:
                    self._take_inputs(used)
            self._layer_output(lay, output)

        return hook

    def _layer_output(self, lay: Layer, output: Any) -> None:
        t = first_float_tensor(output)
        if t is None:
            return
        self._note(lay.name)
        self.stats.add(lay.name, "activation", t, unit_dim=unit_dim_for(t), bounds=lay.bounds)
        if self._agrads and t.requires_grad:
            name, stats = lay.name, self.stats
            t.register_hook(lambda g: stats.add(name, "activation_grad", g))

    def close(self, output: Any) -> torch.Tensor | None:
        """Record the output (logits-like tensor) and remove the hooks; returns that tensor."""
        self.remove()
        if self._entry is not None:
            self._layer_output(self._entry, output)
        out = output_tensor(output)
        if out is None:
            return None
        self._note(self.root_name)
        self.stats.add(self.root_name, "activation", out)
        if out.dim() >= 2 and out.is_floating_point() and out.shape[-1] > 1:
            self.stats.probe("probability", _probability_check(out.detach()))
        return out

    def remove(self) -> None:
        self._open = False
        for h in self._handles:
            h.remove()
        self._handles = []


def _probability_check(y: torch.Tensor) -> torch.Tensor | np.ndarray:
    """``(min, largest |row sum - 1|, classes)`` of an output: are its rows distributions?

    In numpy for a small CPU output (three torch ops cost ~50 us in a training step; numpy, a
    tenth of that).
    """
    if y.device.type == "cpu" and y.dtype in (torch.float32, torch.float64) and \
            y.numel() < LARGE:
        a = y.numpy()
        return np.array([a.min(), np.abs(a.sum(-1) - 1).max(), a.shape[-1]])
    return torch.stack([
        y.min().float(),
        (y.float().sum(-1) - 1).abs().max(),
        y.new_tensor(float(y.shape[-1]), dtype=torch.float32),
    ])


def eval_modules(layers: Sequence[Layer], root: nn.Module) -> dict[str, Any] | None:
    """Which mode-sensitive modules are in eval mode now (None when all train)."""
    evals = [lay for lay in layers if lay.mode and not lay.module.training]
    if root.training and not evals:
        return None
    counts = {"dropout": 0, "norm": 0}
    totals = {"dropout": 0, "norm": 0}
    for lay in layers:
        if lay.mode:
            totals[lay.mode] += 1
            counts[lay.mode] += not lay.module.training
    return {
        "root_eval": not root.training,
        "modules": [lay.name for lay in evals][:20],
        "dropout_eval": counts["dropout"],
        "dropout_total": totals["dropout"],
        "norm_eval": counts["norm"],
        "norm_total": totals["norm"],
    }
