"""Resolve what ``deepscope summary`` is pointed at: an ONNX file or ``pkg.module:factory``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import torch

from deepscope.errors import GraphError, InvalidArgumentError


def parse_input_size(text: str | None) -> list[tuple[int, ...]] | None:
    """``"1,3,32,32"`` -> ``[(1, 3, 32, 32)]``; several inputs are separated by ``;``.

    Example:
        >>> parse_input_size("1,3,32,32;1,10")
        [(1, 3, 32, 32), (1, 10)]

    """
    if text is None or not text.strip():
        return None
    sizes = []
    for part in text.split(";"):
        try:
            dims = tuple(int(d) for d in part.replace("x", ",").split(",") if d.strip())
        except ValueError:
            raise InvalidArgumentError(
                f"--input-size must look like 1,3,32,32 (several inputs: 1,8;1,4), got '{text}'"
            ) from None
        if not dims or any(d <= 0 for d in dims):
            raise InvalidArgumentError(f"--input-size dimensions must be positive, got '{text}'")
        sizes.append(dims)
    return sizes


def load_target(target: str) -> tuple[torch.nn.Module | Path, Any]:
    """Resolve ``target`` to ``(model or .onnx path, example inputs or None)``.

    ``pkg.module:attr`` is imported; ``attr`` may be a module instance, or a callable returning a
    module or a ``(module, example_inputs)`` pair (e.g. a transformer and its ``input_ids``).

    Example:
        >>> load_target("torch.nn:Identity")
        (Identity(), None)

    """
    path = Path(target)
    if path.suffix.lower() == ".onnx" or path.is_file():
        if not path.is_file():
            raise InvalidArgumentError(f"no such file: '{target}'")
        return path, None
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidArgumentError(
            f"expected an .onnx file or pkg.module:factory, got '{target}'"
        )
    obj = _import(module_name, attr)
    if isinstance(obj, torch.nn.Module):
        return obj, None
    if not callable(obj):
        raise GraphError(f"'{target}' is neither a torch.nn.Module nor a factory returning one")
    try:
        made = obj()
    except Exception as err:  # noqa: BLE001 - user code; reported in one line
        raise GraphError(f"calling '{target}()' failed: {type(err).__name__}: {err}") from None
    model, inputs = made if isinstance(made, tuple) and len(made) == 2 else (made, None)
    if not isinstance(model, torch.nn.Module):
        raise GraphError(
            f"'{target}()' returned {type(made).__name__}, not a torch.nn.Module "
            "or a (module, example_inputs) pair"
        )
    return model, inputs


def _import(module_name: str, attr: str) -> Any:
    """Import from the current directory too, as ``python -c`` would."""
    added = str(Path.cwd())
    sys.path.insert(0, added)
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - ImportError or an error inside the module
        raise InvalidArgumentError(
            f"cannot import '{module_name}': {type(err).__name__}: {err}"
        ) from None
    finally:
        sys.path.remove(added)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise InvalidArgumentError(f"'{module_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    return obj
