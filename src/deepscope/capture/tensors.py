"""Find the tensors inside the nested outputs modules return (tuples, dicts, ModelOutput)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch


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
        elif isinstance(cur, Mapping):
            stack[:0] = list(cur.values())
        elif isinstance(cur, (tuple, list)):
            stack[:0] = list(cur)


def first_float_tensor(obj: Any) -> torch.Tensor | None:
    """The first floating tensor (an LSTM's output sequence, a ModelOutput's first field)."""
    return next(iter_float_tensors(obj, limit=1), None)
