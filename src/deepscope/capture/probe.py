"""The probe batch of ``run.watch(model, probe=batch, tokens=...)``: checked, moved, called.

A probe is what the model is called with: a tensor (``model(x)``), a mapping of keyword
arguments (``model(**batch)``, e.g. a tokenizer's output) or a tuple of arguments. Its first
sequence's attention patterns are stored; ``tokens`` label them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from deepscope.capture.attention import PATTERN_TOKENS
from deepscope.errors import InvalidArgumentError


def _ids(batch: Any) -> torch.Tensor | None:
    """The tensor whose last (or second-last, for embeddings) axis is the token axis."""
    if isinstance(batch, Mapping):
        batch = batch.get("input_ids", next(iter(batch.values()), None))
    elif isinstance(batch, (tuple, list)):
        batch = batch[0] if batch else None
    return batch if isinstance(batch, torch.Tensor) and batch.dim() >= 1 else None


def probe_length(batch: Any) -> int | None:
    """Tokens of the probe's first sequence whose pattern is stored."""
    t = _ids(batch)
    if t is None:
        return None
    length = t.shape[-1] if t.dim() <= 2 or not t.is_floating_point() else t.shape[-2]
    return int(min(length, PATTERN_TOKENS))


def probe_arguments(probe: Any, tokens: Any) -> tuple[Any, list[str] | None]:
    """Check ``probe`` and turn ``tokens`` (strings or a tokenizer) into strings.

    Example:
        >>> probe_arguments(torch.zeros(1, 3, dtype=torch.long), ["a", "b", "c"])[1]
        ['a', 'b', 'c']

    """
    if probe is None:
        if tokens is not None:
            raise InvalidArgumentError("watch(tokens=...) needs a probe batch: "
                                       "run.watch(model, probe=batch, tokens=[...])")
        return None, None
    if not isinstance(probe, (torch.Tensor, Mapping, tuple, list)):
        raise InvalidArgumentError(
            f"watch(probe=...) must be a tensor, a dict of keyword arguments or a tuple of "
            f"arguments for the model, got {type(probe).__name__}")
    if isinstance(probe, Mapping):
        probe = dict(probe)  # a tokenizer's BatchEncoding is a Mapping
    if tokens is None:
        return probe, None
    if hasattr(tokens, "convert_ids_to_tokens"):
        ids = _ids(probe)
        if ids is None or ids.is_floating_point():
            raise InvalidArgumentError("watch(tokens=tokenizer) needs token ids in the probe "
                                       "(a tensor or input_ids)")
        first = ids.reshape(-1, ids.shape[-1])[0]
        return probe, [str(t) for t in tokens.convert_ids_to_tokens(first.tolist())]
    if not isinstance(tokens, (list, tuple)) or not all(isinstance(t, str) for t in tokens):
        raise InvalidArgumentError("watch(tokens=...) must be a list of token strings or a "
                                   "tokenizer")
    return probe, list(tokens)


def to_device(obj: Any, device: torch.device) -> Any:
    """``obj`` with every tensor in it moved to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, Mapping):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return type(obj)(to_device(v, device) for v in obj)
    return obj


def call(module: nn.Module, batch: Any) -> Any:
    """Call ``module`` with the probe batch."""
    if isinstance(batch, Mapping):
        return module(**batch)
    if isinstance(batch, (tuple, list)):
        return module(*batch)
    return module(batch)
