"""See through the wrappers frameworks put around models and optimizers.

DDP and DataParallel (``module.``), ``torch.compile`` (``_orig_mod.``), FSDP
(``_fsdp_wrapped_module.``) and activation checkpointing (``_checkpoint_wrapped_module.``)
each add a module with one child that *is* the user's module. Layer names are taken with
those levels removed, so they match ``ds.summary`` of the bare model. Optimizers are
unwrapped the same way: accelerate's ``AcceleratedOptimizer`` and Lightning's
``LightningOptimizer`` hold the real one, whose step hooks run when the wrapper steps.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

#: Wrapper module class name -> attribute holding the wrapped module.
_MODULE_WRAPPERS: dict[str, str] = {
    "OptimizedModule": "_orig_mod",
    "DistributedDataParallel": "module",
    "DataParallel": "module",
    "FullyShardedDataParallel": "_fsdp_wrapped_module",
    "CheckpointWrapper": "_checkpoint_wrapped_module",
    "OffloadWrapper": "_checkpoint_wrapped_module",
}


def _wrapped(module: nn.Module) -> nn.Module | None:
    attr = _MODULE_WRAPPERS.get(type(module).__name__)
    inner = getattr(module, attr, None) if attr else None
    return inner if isinstance(inner, nn.Module) else None


def unwrap_module(module: nn.Module) -> nn.Module:
    """The user's module inside any number of wrappers.

    Example:
        >>> from torch import nn
        >>> net = nn.Linear(2, 2)
        >>> unwrap_module(nn.DataParallel(net)) is net
        True

    """
    inner = _wrapped(module)
    while inner is not None:
        module, inner = inner, _wrapped(inner)
    return module


def named_modules(root: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """``root.named_modules()`` with wrapper levels removed from the names (and not listed)."""
    stack: list[tuple[str, nn.Module]] = [("", unwrap_module(root))]
    seen: set[int] = set()
    while stack:
        name, mod = stack.pop()
        if id(mod) in seen:
            continue
        seen.add(id(mod))
        yield name, mod
        children = [
            (f"{name}.{child}" if name else child, unwrap_module(sub))
            for child, sub in mod._modules.items()
            if sub is not None
        ]
        stack.extend(reversed(children))


def is_compiled(module: nn.Module) -> bool:
    """True for ``torch.compile(model)`` and for a module compiled in place (``model.compile()``).

    Dynamo traces the hooks of a compiled module; deepscope puts none inside it.
    """
    if type(module).__name__ == "OptimizedModule":
        return True
    return getattr(module, "_compiled_call_impl", None) is not None


def compiled_subtrees(root: nn.Module) -> list[nn.Module]:
    """Modules inside ``root`` that are compiled (their children get no hooks either)."""
    return [m for m in root.modules() if is_compiled(m)]


def real_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    """The ``torch.optim.Optimizer`` whose ``step`` does the work, inside any wrappers.

    accelerate's ``AcceleratedOptimizer`` subclasses ``Optimizer`` without its hook tables, so the
    class alone does not tell; the presence of a wrapped optimizer does.

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> real_optimizer(opt) is opt
        True

    """
    seen = 0
    while seen < 8:
        seen += 1
        inner = next(
            (
                getattr(optimizer, a)
                for a in ("optimizer", "_optimizer")
                if isinstance(getattr(optimizer, a, None), torch.optim.Optimizer)
                and getattr(optimizer, a) is not optimizer
            ),
            None,
        )
        if inner is None:
            break
        optimizer = inner
    if not isinstance(optimizer, torch.optim.Optimizer) or not hasattr(
        optimizer, "_optimizer_step_pre_hooks"
    ):
        from deepscope.errors import InvalidArgumentError

        raise InvalidArgumentError(
            f"watch(optimizer=...) needs a torch.optim.Optimizer, got {type(optimizer).__name__}"
        )
    return optimizer
