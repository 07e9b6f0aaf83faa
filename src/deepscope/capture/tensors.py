"""Find the tensors inside what modules take and return (tuples, dicts, dataclasses, ModelOutput).

The *output* of a model is its logits-like tensor: a field named ``logits`` when there is one,
else the first floating tensor with at least one dimension (an HF ``ModelOutput`` puts the 0-d
loss first), else the first floating tensor. Statistics, the graph's output node and the
non-finite check all use this one rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import torch

#: Field names that hold a model's prediction, in order of preference.
LOGITS_FIELDS: tuple[str, ...] = ("logits", "prediction_logits", "last_hidden_state")


def _children(obj: Any) -> list[Any] | None:
    """The values inside a container, in order, or None for a leaf."""
    if isinstance(obj, Mapping):
        return list(obj.values())
    if isinstance(obj, (tuple, list)):
        return list(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, f.name, None) for f in dataclasses.fields(obj)]
    return None


def iter_float_tensors(obj: Any, limit: int = 16) -> Iterator[torch.Tensor]:
    """Floating-point tensors in ``obj`` in order, depth first, at most ``limit`` of them."""
    stack = [obj]
    seen = 0
    while stack and seen < limit:
        cur = stack.pop(0)
        if isinstance(cur, torch.Tensor):
            if cur.is_floating_point() or cur.is_complex():
                seen += 1
                yield cur
            continue
        inner = _children(cur)
        if inner:
            stack[:0] = inner


def first_float_tensor(obj: Any) -> torch.Tensor | None:
    """The first floating tensor (an LSTM's output sequence, a tuple's first element)."""
    return next(iter_float_tensors(obj, limit=1), None)


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return getattr(obj, name, None)
    return None


def output_tensor(obj: Any) -> torch.Tensor | None:
    """The logits-like tensor of a model output (see the module docstring).

    Example:
        >>> import torch
        >>> out = {"loss": torch.tensor(0.5), "logits": torch.zeros(2, 3)}
        >>> output_tensor(out).shape
        torch.Size([2, 3])
        >>> output_tensor((torch.tensor(1.0), torch.ones(4))).shape
        torch.Size([4])

    """
    if isinstance(obj, torch.Tensor):
        return obj if obj.is_floating_point() or obj.is_complex() else None
    for name in LOGITS_FIELDS:
        t = _field(obj, name)
        if isinstance(t, torch.Tensor) and t.is_floating_point():
            return t
    first = None
    for t in iter_float_tensors(obj):
        if t.dim() >= 1:
            return t
        first = first if first is not None else t
    return first


def tensor_storage(t: torch.Tensor) -> int:
    """An identity for the memory behind ``t`` (views share it): which inputs a layer consumed."""
    try:
        return t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):  # e.g. tensor subclasses without storage
        return id(t)
