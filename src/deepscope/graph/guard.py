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
