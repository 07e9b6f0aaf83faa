"""Helpers shared by the tracers: nested values, shapes, op names, activation bytes, inputs."""

from __future__ import annotations

import dataclasses
import inspect
import math
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from deepscope.errors import GraphError, InvalidArgumentError

Shape = list[int]


def iter_tensors(value: Any, path: str = "", _depth: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(path, tensor)`` for every tensor in nested tuples, lists and mappings.

    Paths are dotted positions or keys (``"0"``, ``"logits"``, ``"1.mask"``) so inputs and
    outputs get stable, readable node ids. Dataclasses count as containers; other objects are
    skipped (HF caches).
    """
    if isinstance(value, torch.Tensor):
        yield path, value
    elif _depth > 8:
        return
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_tensors(item, _join(path, str(key)), _depth + 1)
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from iter_tensors(item, _join(path, str(i)), _depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from iter_tensors(getattr(value, f.name, None), _join(path, f.name), _depth + 1)


def named_inputs(
    model: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[tuple[str, torch.Tensor]]:
    """Input tensors named by ``forward``'s parameters (``x``, ``batch.x``), as torch.fx names
    them, so both tracers give the same input node ids; positions when binding fails.
    """
    try:
        bound = inspect.signature(model.forward).bind(*args, **kwargs).arguments
    except (TypeError, ValueError):
        return [*iter_tensors(args), *iter_tensors(kwargs)]
    return [item for name, value in bound.items() for item in iter_tensors(value, name)]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def tensors_of(value: Any) -> list[torch.Tensor]:
    """All tensors in a nested value, in order."""
    return [t for _, t in iter_tensors(value)]


def numel(t: torch.Tensor) -> int:
    """Element count; 0 for a lazy module's parameter that has no size yet."""
    if isinstance(t, torch.nn.parameter.UninitializedTensorMixin):
        return 0
    return t.numel()


def has_lazy_parameters(model: torch.nn.Module) -> bool:
    """True while a lazy module waits for its first forward (running one would initialise it)."""
    return any(isinstance(t, torch.nn.parameter.UninitializedTensorMixin)
               for t in [*model.parameters(), *model.buffers()])  # fmt: skip


def shape_of(t: torch.Tensor) -> Shape:
    """The tensor's shape as a plain list (empty for shapeless tensors such as nested ones)."""
    try:
        return [int(d) for d in t.shape]
    except (RuntimeError, TypeError):  # nested / symbolic tensors
        return []


def dtype_name(t: torch.Tensor) -> str:
    """``torch.float32`` -> ``"float32"``."""
    return str(t.dtype).removeprefix("torch.")


def op_name(func: Any) -> str:
    """A readable operation name for a torch function, tensor method or property getter."""
    name = getattr(func, "__name__", None) or type(func).__name__
    if name == "__get__":  # property getter such as Tensor.T
        name = getattr(getattr(func, "__self__", None), "__name__", name)
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        if name.startswith("i") and name[1:] in _INPLACE_DUNDERS:
            name = name[1:] + "_"
        elif name.startswith("r") and name[1:] in _INPLACE_DUNDERS:
            name = name[1:]
    return name.lstrip("_") or name


_INPLACE_DUNDERS = {"add", "sub", "mul", "truediv", "floordiv", "matmul", "pow", "and", "or", "mod"}


def is_inplace(name: str) -> bool:
    """True for ops that write into their first argument (``add_``, ``setitem``)."""
    return name == "setitem" or (name.endswith("_") and not name.endswith("__"))


class StorageTracker:
    """Counts activation bytes once per live storage, so views and in-place ops add nothing.

    A storage is remembered only while a tensor using it is alive: freed storage addresses are
    reused, and a stale address would hide a new activation.
    """

    def __init__(self) -> None:
        self._live: dict[int, int] = {}

    def mark(self, tensors: list[torch.Tensor]) -> None:
        """Record storages that are not activations (model inputs)."""
        for t in tensors:
            self.new_bytes(t)

    def new_bytes(self, t: torch.Tensor) -> int:
        """Bytes of ``t`` if no live tensor uses its storage yet, else 0."""
        try:
            ptr = int(t.untyped_storage()._cdata)  # the storage object, real or fake alike
        except (RuntimeError, NotImplementedError, TypeError, AttributeError):
            return 0
        nbytes = int(t.numel() * t.element_size())
        if not ptr:
            return nbytes
        fresh = ptr not in self._live
        self._live[ptr] = self._live.get(ptr, 0) + 1
        weakref.finalize(t, self._release, ptr)
        return nbytes if fresh else 0

    def _release(self, ptr: int) -> None:
        left = self._live.get(ptr, 0) - 1
        if left > 0:
            self._live[ptr] = left
        else:
            self._live.pop(ptr, None)


def flop_counter() -> FlopCounterMode:
    """``FlopCounterMode`` that also counts fused recurrent kernels (CPU LSTM runs as one
    ``mkldnn_rnn_layer`` op with no formula in torch, so it would count 0).
    """
    mapping: dict[Any, Any] = {}
    rnn_layer = getattr(torch.ops.aten, "mkldnn_rnn_layer", None)
    if rnn_layer is not None:
        mapping[rnn_layer] = _rnn_layer_flops
    return FlopCounterMode(display=False, custom_mapping=mapping)


def _rnn_layer_flops(x_shape: Shape, w_ih: Shape, w_hh: Shape, *args: Any, **kwargs: Any) -> int:
    """2 x (time steps x batch) x (input-to-hidden + hidden-to-hidden weights)."""
    steps = math.prod(x_shape[:-1])
    return 2 * steps * (math.prod(w_ih) + math.prod(w_hh))


def model_device(model: torch.nn.Module) -> torch.device:
    """Device of the first parameter or buffer (CPU for a model without any)."""
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


def make_inputs(
    model: torch.nn.Module, example_inputs: Any, input_size: Any, example_kwargs: Any = None
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """Normalise user inputs to ``(args, kwargs)`` for ``model(*args, **kwargs)``.

    A tensor is one argument, a tuple or list are positional arguments, a mapping whose keys are
    all parameters of ``forward`` are keyword arguments (a mapping is otherwise one argument).
    ``example_kwargs`` adds keyword arguments to positional ``example_inputs`` (a training hook
    has both). ``input_size`` is one shape or a list of shapes of random float32 inputs, drawn
    from a private generator so the global RNG is untouched. None: no inputs.
    """
    if example_inputs is not None and input_size is not None:
        raise InvalidArgumentError("pass either example_inputs or input_size, not both")
    if example_kwargs is not None and not isinstance(example_kwargs, Mapping):
        raise InvalidArgumentError("example_kwargs must be a dict of keyword arguments")
    if input_size is not None:
        sizes = _parse_sizes(input_size)
        device = model_device(model)
        gen = torch.Generator().manual_seed(0)
        return tuple(torch.randn(*s, generator=gen).to(device) for s in sizes), {}
    if example_kwargs is not None:
        args = example_inputs if isinstance(example_inputs, (tuple, list)) else (example_inputs,)
        return tuple(args) if example_inputs is not None else (), dict(example_kwargs)
    if example_inputs is None:
        return None
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,), {}
    if isinstance(example_inputs, Mapping):
        if _takes_keywords(model, example_inputs):
            return (), dict(example_inputs)
        return (example_inputs,), {}
    if isinstance(example_inputs, (tuple, list)):
        return tuple(example_inputs), {}
    return (example_inputs,), {}


def _takes_keywords(model: torch.nn.Module, inputs: Mapping[str, Any]) -> bool:
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return True
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return True
    return all(isinstance(k, str) and k in params for k in inputs)


def _parse_sizes(input_size: Any) -> list[tuple[int, ...]]:
    if isinstance(input_size, (torch.Size, tuple, list)) and all(
        isinstance(d, int) for d in input_size
    ):
        sizes = [tuple(input_size)]
    elif isinstance(input_size, (tuple, list)) and all(
        isinstance(s, (tuple, list, torch.Size)) for s in input_size
    ):
        sizes = [tuple(s) for s in input_size]
    else:
        raise InvalidArgumentError(
            "input_size must be a shape like (1, 3, 32, 32) or a list of shapes, "
            f"got {input_size!r}"
        )
    for s in sizes:
        if not s or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in s):
            raise InvalidArgumentError(
                f"input_size dimensions must be positive integers, got {s!r}"
            )
    return sizes


def check_model(model: Any) -> torch.nn.Module:
    """Reject anything that is not a module with a one-line error."""
    if not isinstance(model, torch.nn.Module):
        raise GraphError(f"expected a torch.nn.Module, got {type(model).__name__}")
    return model
