"""Capture one training forward of a sampled step: activations, model inputs, output, modes.

Leaf hooks exist only while this forward runs (an unsampled step pays nothing for them). The
*model input* is what the model consumes as data: of the float tensors passed to the entry module,
those a layer actually receives (the same memory, views included). A keyword such as
``num_items_in_batch`` that no layer reads is not an input.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from deepscope.capture.stats import StepStats, unit_dim_for
from deepscope.capture.tensors import (
    first_float_tensor,
    iter_float_tensors,
    output_tensor,
    tensor_storage,
)

#: Modules whose ``.training`` flag changes what a training step computes.
DROPOUT_TYPES: tuple[type[nn.Module], ...] = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
                                              nn.AlphaDropout, nn.FeatureAlphaDropout)


def mode_kind(module: nn.Module) -> str | None:
    """``dropout``, ``norm`` (batch statistics in training) or None."""
    if isinstance(module, DROPOUT_TYPES) or "Dropout" in type(module).__name__:
        return "dropout"
    if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
        return "norm"
    return None


@dataclass
class Layer:
    """A watched module: prefixed name, statistic family and bounds, its own parameters."""

    name: str
    module: nn.Module
    family: str
    bounds: tuple[float, float] | None
    params: list[tuple[str, nn.Parameter]]
    is_leaf: bool
    mode: str | None = None


class ForwardCapture:
    """Hooks for one forward of the entry module; :meth:`close` always removes them."""

    def __init__(
        self,
        stats: StepStats,
        layers: Sequence[Layer],
        root_name: str,
        *,
        entry_is_leaf: bool,
        activation_grads: bool,
        note_order: Callable[[str], None],
        hooks: bool = True,
    ):
        self.stats = stats
        self.root_name = root_name
        self._note = note_order
        self._agrads = activation_grads
        self._entry_is_leaf = entry_is_leaf
        self._candidates: dict[int, torch.Tensor] = {}
        self._handles: list[Any] = []
        self._layers = [lay for lay in layers if lay.is_leaf] if hooks else []

    def open(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        for t in iter_float_tensors((args, kwargs), limit=8):
            self._candidates.setdefault(tensor_storage(t), t)
        if self._entry_is_leaf or not self._layers:
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
        def hook(_m: nn.Module, args: Any, kwargs: Any, output: Any) -> None:
            if torch.compiler.is_compiling():
                return
            if self._candidates:
                used = [
                    self._candidates[s]
                    for s in {tensor_storage(t) for t in iter_float_tensors((args, kwargs), 4)}
                    if s in self._candidates
                ]
                if used:
                    self._take_inputs(used)
            t = first_float_tensor(output)
            if t is None:
                return
            self._note(lay.name)
            self.stats.add(lay.name, "activation", t, unit_dim=unit_dim_for(t), bounds=lay.bounds)
            if self._agrads and t.requires_grad:
                name, stats = lay.name, self.stats
                t.register_hook(lambda g: stats.add(name, "activation_grad", g))

        return hook

    def close(self, output: Any) -> torch.Tensor | None:
        """Record the output (logits-like tensor) and remove the hooks; returns that tensor."""
        self.remove()
        out = output_tensor(output)
        if out is None:
            return None
        self._note(self.root_name)
        self.stats.add(self.root_name, "activation", out)
        if out.dim() >= 2 and out.is_floating_point() and out.shape[-1] > 1:
            y = out.detach()
            self.stats.probe(
                "probability",
                torch.stack([
                    y.min().float(),
                    (y.float().sum(-1) - 1).abs().max(),
                    y.new_tensor(float(y.shape[-1]), dtype=torch.float32),
                ]),
            )
        return out

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []


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
