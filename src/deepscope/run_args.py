"""What a caller passes to a Run, checked once: metric values, names, steps, config, name.

Each check returns the value deepscope stores or raises one
:class:`~deepscope.errors.InvalidArgumentError` line naming the argument and what to pass.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import torch

from deepscope.errors import InvalidArgumentError


def jsonable_config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The config as JSON-able values (anything else stored as its ``str``)."""
    if config is not None and not isinstance(config, Mapping):
        raise InvalidArgumentError(
            f"config must be a dict such as {{'lr': 0.001}}, got {type(config).__name__}"
        )
    out: dict[str, Any] = {}
    for k, v in (config or {}).items():
        out[str(k)] = v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
    return out


def check_name(name: Any) -> str:
    """The run name (``run`` when None)."""
    if name is None:
        return "run"
    if not isinstance(name, str):
        raise InvalidArgumentError(f"name must be a string, got {type(name).__name__}")
    return name


MAX_TAG = 512


def as_float(tag: Any, v: Any) -> float:
    """One metric value as a float (a one-element tensor or array, a number, a numeric str)."""
    if isinstance(v, torch.Tensor):
        if v.numel() != 1:
            raise InvalidArgumentError(
                f"metric {tag!r} is a tensor of shape {tuple(v.shape)}: log one number "
                "(e.g. loss.item() or tensor.mean().item())"
            )
        v = v.detach().float().item()
    try:
        return float(v)
    except OverflowError:
        raise InvalidArgumentError(f"metric {tag!r} is too large for a float: {short(v)}"
                                   ) from None
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"metric {tag!r} is not a number: {short(v)}") from None


def short(v: Any) -> str:
    """``repr(v)`` cut to 80 characters, for messages."""
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def check_tag(tag: Any) -> str:
    """A usable metric name: a non-empty string of at most 512 printable characters."""
    text = tag if isinstance(tag, str) else str(tag)
    if not text or len(text) > MAX_TAG or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidArgumentError(
            f"metric name {short(tag)} is not usable: give 1 to {MAX_TAG} printable characters"
        )
    return text


#: Steps are stored as int64.
MAX_STEP = 2**63 - 1


def check_step(step: Any) -> int:
    """``step`` as an int64-safe integer, or an InvalidArgumentError."""
    if isinstance(step, bool) or not isinstance(step, (numbers.Integral, float, torch.Tensor)):
        raise InvalidArgumentError(f"step must be an integer, got {short(step)}")
    try:
        value = int(step) if not isinstance(step, float) or step.is_integer() else None
    except (TypeError, ValueError, RuntimeError, OverflowError):
        value = None
    if value is None or (isinstance(step, torch.Tensor) and step.is_floating_point()):
        raise InvalidArgumentError(f"step must be an integer, got {short(step)}")
    if not 0 <= value <= MAX_STEP:
        raise InvalidArgumentError(f"step must be between 0 and 2**63 - 1, got {value}")
    return value
