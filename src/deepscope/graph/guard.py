"""Run an inspection forward pass that leaves no trace on the model.

Graphs are built from inside training loops on real batches, so the pass must not update
BatchNorm statistics, consume random numbers, record autograd history or change modes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch


@contextmanager
def untouched(model: torch.nn.Module, inputs: Any = None) -> Iterator[None]:
    """Context in which forward passes of ``model`` change nothing observable afterwards.

    The pass sees copies of the buffers (the originals are not written, not even their autograd
    version counters), parameter and buffer registrations and training flags are put back, and
    the torch RNG (CPU and every CUDA device in use) is forked.

    Example:
        >>> import torch
        >>> bn = torch.nn.BatchNorm1d(3)
        >>> with untouched(bn):
        ...     _ = bn(torch.randn(4, 3))
        >>> bn.running_mean.abs().sum().item()
        0.0

    """
    modules = list(model.modules())
    flags = [m.training for m in modules]
    params = [dict(m._parameters) for m in modules]
    # The pass runs on copies of the buffers: writing back into the originals would bump their
    # version counters and break a backward pass pending on them (BatchNorm in training).
    buffers = [dict(m._buffers) for m in modules]
    for m in modules:
        for name, buf in m._buffers.items():
            if buf is not None:
                m._buffers[name] = buf.detach().clone()
    devices = _cuda_devices(model, inputs)
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        try:
            yield
        finally:
            for m, flag, ps, bufs in zip(modules, flags, params, buffers, strict=True):
                m.training = flag
                m._parameters.clear()
                m._parameters.update(ps)
                m._buffers.clear()
                m._buffers.update(bufs)


def _cuda_devices(model: torch.nn.Module, inputs: Any) -> list[int]:
    """CUDA device indices touched by the model or inputs (fork_rng warns on guessing)."""
    found = {t.device.index for t in model.parameters() if t.device.type == "cuda"}
    found |= {t.device.index for t in model.buffers() if t.device.type == "cuda"}
    from deepscope.graph.tensors import tensors_of

    found |= {t.device.index for t in tensors_of(inputs) if t.device.type == "cuda"}
    return sorted(i if i is not None else 0 for i in found)


def hook_counts(model: torch.nn.Module) -> list[int]:
    """Number of registered hooks per module (used to prove nothing is left behind)."""
    names = (
        "_forward_hooks",
        "_forward_pre_hooks",
        "_backward_hooks",
        "_backward_pre_hooks",
        "_state_dict_hooks",
    )
    return [sum(len(getattr(m, n, {})) for n in names) for m in model.modules()]


@contextmanager
def shape_only(
    module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any], set[int]]]:
    """Run ``module`` on fake tensors: shapes, dtypes and FLOPs without computing anything.

    Parameters, buffers and inputs are swapped for ``FakeTensor``s (same shapes, no data), so
    GPT-2 traces in a fraction of a forward pass and the real tensors are never read or written.
    Yields the fake ``(args, kwargs)`` and the ids of the fake parameters and buffers. Data-
    dependent code (``.item()``, ``nonzero``) raises inside; callers then run for real.

    Example:
        >>> import torch
        >>> lin = torch.nn.Linear(3, 2)
        >>> with shape_only(lin, (torch.randn(4, 3),), {}) as (args, kwargs, _):
        ...     print(lin(*args).shape)
        torch.Size([4, 2])

    """
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.nn.utils.stateless import _reparametrize_module
    from torch.utils._pytree import tree_map

    mode = FakeTensorMode()
    named = [
        *module.named_parameters(remove_duplicate=False),
        *module.named_buffers(remove_duplicate=False),
    ]
    state = {name: mode.from_tensor(t) for name, t in named}  # memoised: tied weights stay tied

    def fake(value: Any) -> Any:
        return mode.from_tensor(value) if isinstance(value, torch.Tensor) else value

    fake_args, fake_kwargs = tree_map(fake, (args, kwargs))
    with _reparametrize_module(module, state), mode:
        yield fake_args, fake_kwargs, {id(t) for t in state.values()}
