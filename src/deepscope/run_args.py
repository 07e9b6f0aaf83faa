"""What a caller passes to a Run, checked once: metric values, names, steps, config, name.

Each check returns the value deepscope stores or raises one
:class:`~deepscope.errors.InvalidArgumentError` line naming the argument and what to pass.
"""

from __future__ import annotations

import numbers
import re
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


_WATCH_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")


def _check_counts(**counts: Any) -> None:
    for arg, value in counts.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise InvalidArgumentError(f"{arg} must be an integer >= 1, got {short(value)}")


def check_watch_args(
    model: Any,
    optimizer: Any = None,
    every: Any = None,
    preset: Any = "default",
    schedule: Any = None,
    bins: Any = 64,
    on_nonfinite: Any = "warn",
    name: Any = None,
    histogram_every: Any = None,
) -> None:
    """Refuse watch() arguments that would fail later, inside training, with one line now."""
    from deepscope.capture.schedule import PRESETS

    if not isinstance(model, torch.nn.Module):
        raise InvalidArgumentError(f"watch() needs a torch.nn.Module, got {type(model).__name__}")
    if any(c.__module__.startswith("keras.") for c in type(model).__mro__):
        raise InvalidArgumentError(
            "a Keras model's layers are not torch submodules: record it with "
            "model.fit(..., callbacks=[deepscope.integrations.keras.DeepscopeCallback()])"
        )
    if optimizer is not None and not callable(getattr(optimizer, "step", None)):
        raise InvalidArgumentError(
            f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    if preset not in PRESETS:
        raise InvalidArgumentError(f"unknown preset {preset!r}; expected one of "
                                   f"{', '.join(PRESETS)}")
    _check_counts(every=every, histogram_every=histogram_every)
    if schedule is not None and not callable(schedule):
        raise InvalidArgumentError("schedule must be a callable step -> bool")
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 4096:
        raise InvalidArgumentError(f"bins must be an integer from 2 to 4096, got {short(bins)}")
    if on_nonfinite not in ("warn", "raise", "ignore"):
        raise InvalidArgumentError("on_nonfinite must be 'warn', 'raise' or 'ignore'")
    if name is not None and (not isinstance(name, str) or not _WATCH_NAME.fullmatch(name)):
        raise InvalidArgumentError(
            f"watch(name=...) must be a short identifier such as 'G' or 'encoder', got "
            f"{short(name)}"
        )
