"""Find the optimizer that trains a watched model when ``watch()`` was not told.

Gradients must be read where the optimizer reads them: after gradient accumulation, after
``GradScaler`` unscaled them, before the update. So a watch without ``optimizer=`` still looks for
one: an optimizer that already exists and owns the model's parameters is found at once; one made
later is adopted at its first ``step()``, through torch's process-wide optimizer step hooks (one
Python call per optimizer step in the process while such a watch is active).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from typing import Any, Protocol

import torch


class OptimizerClient(Protocol):
    """What the hub calls: a watch that has no optimizer of its own yet."""

    def offer_optimizer(self, optimizer: torch.optim.Optimizer) -> bool: ...

    def optimizer_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None: ...

    def optimizer_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None: ...


def owns(optimizer: torch.optim.Optimizer, param_ids: set[int]) -> bool:
    """Whether ``optimizer`` updates any of the parameters in ``param_ids``."""
    return any(id(p) in param_ids for g in optimizer.param_groups for p in g["params"])


def existing_optimizers(param_ids: set[int]) -> list[torch.optim.Optimizer]:
    """Live optimizers (with step hooks) that own some of ``param_ids``; a one-off heap scan."""
    found = []
    base = torch.optim.Optimizer
    for obj in gc.get_objects():
        # type() rather than isinstance(): some objects warn when their __class__ is read.
        if (
            issubclass(type(obj), base)
            and hasattr(obj, "_optimizer_step_pre_hooks")
            and hasattr(obj, "param_groups")
            and owns(obj, param_ids)
        ):
            found.append(obj)
    return found


class _Hub:
    """Process-wide optimizer step hooks, registered while some watch waits for an optimizer."""

    def __init__(self) -> None:
        self._clients: list[OptimizerClient] = []
        self._handles: list[Any] = []

    def add(self, client: OptimizerClient) -> None:
        if client in self._clients:
            return
        self._clients.append(client)
        if not self._handles:
            from torch.optim.optimizer import (
                register_optimizer_step_post_hook,
                register_optimizer_step_pre_hook,
            )

            self._handles = [
                register_optimizer_step_pre_hook(self._pre),
                register_optimizer_step_post_hook(self._post),
            ]

    def remove(self, client: OptimizerClient) -> None:
        if client in self._clients:
            self._clients.remove(client)
        if not self._clients:
            for h in self._handles:
                h.remove()
            self._handles = []

    def _targets(self, optimizer: torch.optim.Optimizer) -> Iterable[OptimizerClient]:
        for client in list(self._clients):
            if client.offer_optimizer(optimizer):
                yield client

    def _pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for client in self._targets(optimizer):
            client.optimizer_pre(optimizer, args, kwargs)

    def _post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        for client in self._targets(optimizer):
            client.optimizer_post(optimizer, args, kwargs)


HUB = _Hub()
