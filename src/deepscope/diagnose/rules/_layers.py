"""Helpers that pick layers for the layer rules (which ones carry weights, which feed which)."""

from __future__ import annotations

from deepscope.diagnose.view import RunView
from deepscope.store.records import LayerInfo
from deepscope.store.schema import ROOT_LAYER

#: Module types whose gradients follow other laws (sparse rows, normalisation statistics) and
#: must not be compared with dense weight layers.
SPECIAL_TYPES: tuple[str, ...] = ("Embedding", "EmbeddingBag", "Norm")


def is_dense(info: LayerInfo | None) -> bool:
    """A trainable layer with dense weights (Linear, Conv, RNN...), not an embedding or a norm."""
    if info is None or info.trainable_params <= 0:
        return False
    return not any(t in info.type for t in SPECIAL_TYPES)


def root_name(view: RunView) -> str:
    """Name of the watched root module (the layer that has ``input`` statistics)."""
    if view.has("input"):
        layers = view.stat_matrix("input", "count").layers
        if layers:
            return layers[0]
    return ROOT_LAYER


def previous_weight_layer(name: str, ordered: list[LayerInfo]) -> str | None:
    """The last trainable layer before ``name`` in forward order (the one that feeds it)."""
    prev = None
    for info in ordered:
        if info.name == name:
            return prev
        if info.trainable_params > 0 and info.name != ROOT_LAYER:
            prev = info.name
    return prev


def first_weight_layer(ordered: list[LayerInfo]) -> str | None:
    """The first trainable layer in forward order (the one that reads the model input)."""
    return next((i.name for i in ordered if i.trainable_params > 0 and i.name != ROOT_LAYER), None)


def drop_ancestors(names: list[str]) -> list[str]:
    """Keep the innermost names: a container is dropped when one of its children is listed.

    Example:
        >>> drop_ancestors(["block", "block.relu", "fc"])
        ['block.relu', 'fc']

    """
    return [n for n in names if not any(o != n and o.startswith(n + ".") for o in names)]
