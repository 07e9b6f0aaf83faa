"""A Keras 3 model seen as deepscope layers: names, own variables, families and the graph.

On the torch backend every Keras layer is a ``torch.nn.Module`` (its ``__call__`` goes through
``nn.Module.__call__``, so torch forward hooks fire) but the layers are not torch submodules of
the model: torch sees one ``ParameterDict`` per model. Layers are therefore found through Keras
(``_flatten_layers``, the walk Keras itself uses for ``model.layers``), each variable belongs to
the innermost layer that owns it, and the graph's edges come from each layer's inbound nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deepscope.graph.model import Edge, Graph, Node, Totals
from deepscope.store.records import LayerInfo

_RELU = {"relu", "relu6"}
_SIGMOID = {"sigmoid", "hard_sigmoid"}
_TANH = {"tanh", "hard_tanh", "soft_sign", "softsign"}
_BOUNDS = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}
INPUT, OUTPUT = "input", "output"


@dataclass
class KerasLayer:
    """One Keras layer: ``name`` joins nested model names with dots (``encoder.dense``)."""

    name: str
    layer: Any
    parent: str | None
    depth: int
    variables: list[Any]
    children: list[str] = field(default_factory=list)

    @property
    def family(self) -> str:
        return family_of(self.layer)

    @property
    def bounds(self) -> tuple[float, float] | None:
        return _BOUNDS.get(self.family)

    @property
    def unit_dim(self) -> int:
        """Units are the channel axis: last for channels_last (Keras' default), else 1."""
        return 1 if getattr(self.layer, "data_format", None) == "channels_first" else -1

    def info(self, order: int) -> LayerInfo:
        params = tuple(
            {
                "name": v.name,
                "shape": list(v.shape),
                "numel": _numel(v),
                "requires_grad": bool(v.trainable),
                # Keras' optimizer applies to every trainable variable of the model.
                "in_optimizer": bool(v.trainable),
                "dtype": str(v.value.dtype),
            }
            for v in self.variables
        )
        return LayerInfo(
            self.name,
            type(self.layer).__name__,
            self.family,
            order,
            sum(_numel(v) for v in self.variables),
            sum(_numel(v) for v in self.variables if v.trainable),
            params,
        )


def _numel(variable: Any) -> int:
    n = 1
    for d in variable.shape:
        n *= int(d)
    return n


def _activation_name(layer: Any) -> str:
    if type(layer).__name__ == "ReLU":
        plain = not getattr(layer, "negative_slope", 0) and not getattr(layer, "threshold", 0)
        return "relu" if plain else "leaky"
    fn = getattr(layer, "activation", None)
    return getattr(fn, "__name__", "") if callable(fn) else ""


def family_of(layer: Any) -> str:
    """``relu``, ``sigmoid``, ``tanh`` or ``other``, from the layer's built-in activation."""
    name = _activation_name(layer)
    if name in _RELU:
        return "relu"
    if name in _SIGMOID:
        return "sigmoid"
    if name in _TANH:
        return "tanh"
    return "other"


def sublayers(layer: Any) -> list[Any]:
    """Direct sublayers, in definition order (input layers left out)."""
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is None:
        return []
    kids = flatten(include_self=False, recursive=False)
    return [k for k in kids if type(k).__name__ != "InputLayer"]


def discover(model: Any) -> list[KerasLayer]:
    """Every layer of ``model`` (nested models included), parents before children."""
    found: list[KerasLayer] = []

    def walk(layer: Any, parent: KerasLayer | None) -> None:
        for sub in sublayers(layer):
            name = sub.name if parent is None else f"{parent.name}.{sub.name}"
            inner_ids = {id(v) for s in sublayers(sub) for v in s.weights}
            own = [v for v in sub.weights if id(v) not in inner_ids]
            entry = KerasLayer(name, sub, parent.name if parent else None,
                               0 if parent is None else parent.depth + 1, own)
            if parent is not None:
                parent.children.append(name)
            found.append(entry)
            walk(sub, entry)

    walk(model, None)
    return found


def _sources(layer: Any, names: dict[int, str]) -> list[str]:
    """Names of the layers feeding ``layer`` (``input`` for the model's inputs)."""
    out: list[str] = []
    for node in getattr(layer, "_inbound_nodes", []) or []:
        for parent in getattr(node, "parent_nodes", []) or []:
            op = getattr(parent, "operation", None)
            src = INPUT if type(op).__name__ == "InputLayer" else names.get(id(op))
            if src is not None and src not in out:
                out.append(src)
    return out


def build_graph(model: Any, layers: list[KerasLayer], shapes: dict[str, list[int]]) -> Graph:
    """The Keras layer structure as a deepscope graph (tracer ``keras``).

    ``shapes`` are output shapes seen in a training forward; edges come from Keras' inbound
    nodes (a layer with none, as in a subclassed model, follows the previous layer).
    """
    names = {id(k.layer): k.name for k in layers}
    nodes = [Node(INPUT, INPUT, INPUT, "Input", "input")]
    edges: list[Edge] = []
    previous = {None: INPUT}
    for k in layers:
        shape = shapes.get(k.name)
        trainable = sum(_numel(v) for v in k.variables if v.trainable)
        nodes.append(Node(
            k.name, k.name, f"{k.name}: {type(k.layer).__name__}", type(k.layer).__name__,
            "module", parent=k.parent, depth=k.depth, is_container=bool(k.children),
            output_shapes=[shape] if shape else [], params=sum(_numel(v) for v in k.variables),
            trainable_params=trainable,
        ))
        if k.children:
            continue
        sources = _sources(k.layer, names) or [previous.get(k.parent, INPUT)]
        edges += [Edge(src, k.name, shapes.get(src)) for src in sources]
        previous[k.parent] = k.name
    leaves = [k.name for k in layers if not k.children]
    last = _output_layer(model, names) or (leaves[-1] if leaves else INPUT)
    nodes.append(Node(OUTPUT, OUTPUT, OUTPUT, "Output", "output"))
    edges.append(Edge(last, OUTPUT, shapes.get(last)))
    total = sum(_numel(v) for v in model.weights)
    totals = Totals(params=total, trainable_params=sum(_numel(v) for v in model.trainable_weights))
    notes = ["structure read from Keras layers and their inbound nodes"]
    return Graph(type(model).__name__, "keras", nodes, edges, totals, notes)


def _output_layer(model: Any, names: dict[int, str]) -> str | None:
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):  # subclassed or unbuilt models
        return None
    for t in outputs or []:
        history = getattr(t, "_keras_history", None)
        op = getattr(history, "operation", None)
        if id(op) in names:
            return names[id(op)]
    return None
