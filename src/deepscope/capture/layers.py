"""The watched layers of a model: which modules, their statistic family, their parameters.

A layer is a module with parameters of its own, or a leaf (its output is an activation); the
root is always one. Names are the module's path with wrapper levels removed, prefixed by the
watch name (``G.0``), the root being the watch name or ``<root>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from deepscope.capture.families import bounds_of, family_of
from deepscope.capture.wrappers import is_compiled, named_modules
from deepscope.store.records import LayerInfo

#: Modules whose ``.training`` flag changes what a training step computes.
DROPOUT_TYPES: tuple[type[nn.Module], ...] = (nn.Dropout, nn.Dropout1d, nn.Dropout2d,
                                              nn.Dropout3d, nn.AlphaDropout,
                                              nn.FeatureAlphaDropout)


def mode_kind(module: nn.Module) -> str | None:
    """``dropout``, ``norm`` (batch statistics in training) or None."""
    if isinstance(module, DROPOUT_TYPES) or "Dropout" in type(module).__name__:
        return "dropout"
    if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
        return "norm"
    return None


def type_name(module: nn.Module) -> str:
    """The module's class name; FSDP's generated subclasses (``FSDPLinear``) name their base."""
    cls = type(module)
    if cls.__name__.startswith("FSDP") and len(cls.__mro__) > 2:
        return cls.__mro__[2].__name__ if cls.__mro__[1].__name__ == "FSDPModule" \
            else cls.__mro__[1].__name__
    return cls.__name__


@dataclass
class Layer:
    """A watched module: prefixed name, statistic family and bounds, its own parameters."""

    name: str
    module: nn.Module
    family: str
    bounds: tuple[float, float] | None
    params: list[tuple[str, nn.Parameter]]
    is_leaf: bool
    mode: str | None = None


def discover(model: nn.Module, name: str | None, root_name: str, compiled: bool) -> list[Layer]:
    """Every watched layer of ``model`` (already unwrapped), in registration order.

    Leaves inside compiled code get no hooks (dynamo traces hooks), so they are not leaves here.
    """
    prefix = f"{name}." if name else ""
    hidden = {id(m) for m in model.modules() if m is not model and is_compiled(m)}
    layers = []
    for path, mod in named_modules(model):
        params = list(mod.named_parameters(recurse=False))
        is_leaf = next(iter(mod.children()), None) is None
        if not params and not is_leaf and mod is not model:
            continue
        fam = family_of(mod)
        layers.append(Layer(f"{prefix}{path}" if path else root_name, mod, fam,
                            bounds_of(mod, fam), params,
                            is_leaf and id(mod) not in hidden and not compiled, mode_kind(mod)))
    return layers


def layer_infos(
    layers: list[Layer], order: dict[str, int], optimizer_ids: set[int] | None
) -> list[LayerInfo]:
    """Records of ``layers`` in forward order (registration order for those not seen yet)."""
    base = len(order)
    infos = []
    for i, lay in enumerate(layers):
        params = tuple(
            {
                "name": pname,
                "shape": list(p.shape),
                "numel": p.numel(),
                "dtype": str(p.dtype),
                "requires_grad": p.requires_grad,
                "in_optimizer": None if optimizer_ids is None else id(p) in optimizer_ids,
            }
            for pname, p in lay.params
        )
        infos.append(LayerInfo(
            lay.name,
            type_name(lay.module),
            lay.family,
            order.get(lay.name, base + i),
            sum(p.numel() for _, p in lay.params),
            sum(p.numel() for _, p in lay.params if p.requires_grad),
            params,
        ))
    return sorted(infos, key=lambda x: x.order)
