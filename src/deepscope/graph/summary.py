"""``ds.summary``: the graph as a table (hierarchy, output shapes, parameters, FLOPs, memory).

The table, ``to_dict()``, ``to_dot()`` and ``to_mermaid()`` all read the same
:class:`~deepscope.graph.model.Graph`, so what the terminal shows is what the dashboard draws.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from deepscope.graph.model import Graph, Node, Totals
from deepscope.graph.render import children_map, to_dot, to_mermaid


class ModelSummary:
    """A model's graph with table, DOT and Mermaid views.

    Example:
        >>> import torch
        >>> model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU())
        >>> s = summary(model, input_size=(2, 8))
        >>> s.totals.params, s.graph.tracer
        (36, 'fx')

    """

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    @property
    def totals(self) -> Totals:
        """Whole-model totals (parameters exact, shared ones counted once)."""
        return self.graph.totals

    def to_dict(self) -> dict[str, Any]:
        """The graph as JSON-able data (``deepscope.graph/1``)."""
        return self.graph.to_dict()

    def to_dot(self) -> str:
        """Graphviz DOT text (``dot -Tsvg``)."""
        return to_dot(self.graph)

    def to_mermaid(self) -> str:
        """Mermaid flowchart text (renders in GitHub markdown)."""
        return to_mermaid(self.graph)

    def rows(self) -> list[Node]:
        """Table rows: modules depth-first in definition order, plus top-level ops."""
        kids = children_map(self.graph)
        out: list[Node] = []

        def walk(parent: str | None) -> None:
            for n in kids.get(parent, []):
                if n.kind == "module" or (n.kind == "op" and parent is None):
                    out.append(n)
                    walk(n.id)

        walk(None)
        return out

    def __rich__(self) -> Group:
        table = Table(title=f"{self.graph.model} ({self.graph.tracer} trace)", expand=False)
        table.add_column("Layer (type)", no_wrap=True)
        table.add_column("Output shape", no_wrap=True)
        table.add_column("Params", justify="right")
        table.add_column("FLOPs", justify="right")
        table.add_column("Act. memory", justify="right")
        for n in self.rows():
            name = f"{n.name.rpartition('.')[2]} ({n.type})" if n.kind == "module" else n.name
            label = f"{'  ' * n.depth}{name}"
            table.add_row(
                Text(label, style="dim" if n.kind == "op" else ""),
                _shapes(n.output_shapes),
                f"{n.params:,}" if n.params else "-",
                _si(n.flops) if n.flops else "-",
                _bytes(n.activation_bytes) if n.activation_bytes else "-",
            )
        return Group(table, Text("\n".join(self._footer())))

    def _footer(self) -> list[str]:
        t = self.totals
        shared = f" (shared {t.shared_params:,}, counted once)" if t.shared_params else ""
        lines = [
            f"Total params: {t.params:,}{shared}",
            f"Trainable params: {t.trainable_params:,}",
            f"Non-trainable params: {t.params - t.trainable_params:,}",
            f"Forward FLOPs: {_si(t.flops)}{self._per_what()}",
            f"Activation memory: {_bytes(t.activation_bytes)}",
            f"Graph: {sum(n.kind == 'module' for n in self.graph.nodes)} modules, "
            f"{sum(n.kind == 'op' for n in self.graph.nodes)} ops, "
            f"{len(self.graph.edges)} edges; tracer: {self.graph.tracer}",
        ]
        return lines + [f"Note: {note}" for note in self.graph.notes]

    def _per_what(self) -> str:
        """What the FLOPs count: one forward pass on the inputs traced, batch size included."""
        shapes = [s for n in self.graph.nodes if n.kind == "input" for s in n.output_shapes]
        if not shapes or not self.totals.flops:
            return ""
        batch = shapes[0][0] if shapes[0] else None
        return (f" per forward pass on input {_shapes(shapes)}"
                + (f" (batch of {batch})" if batch is not None else ""))

    def __str__(self) -> str:
        buf = io.StringIO()
        Console(file=buf, width=160, color_system=None, force_terminal=False).print(self)
        return buf.getvalue()

    def _repr_html_(self) -> str:
        from deepscope.integrations.notebook import summary_html

        return summary_html(self)

    def __repr__(self) -> str:
        t = self.totals
        return f"<ModelSummary {self.graph.model}: {t.params:,} params, {_si(t.flops)} FLOPs>"


def summary(
    model: Any, example_inputs: Any = None, *, input_size: Any = None, depth: int | None = None
) -> ModelSummary:
    """Summarise a model: hierarchy, output shapes, parameters, FLOPs and activation memory.

    Args:
        model: a ``torch.nn.Module``, a path to an ``.onnx`` file, or a built ``Graph``.
        example_inputs: a tensor, a tuple of arguments or a dict of keyword arguments.
        input_size: instead of inputs, a shape such as ``(1, 3, 32, 32)``.
        depth: collapse modules below this depth (1 = only top-level modules).

    Returns:
        A :class:`ModelSummary`; ``print`` it for the table.

    Example:
        >>> import torch
        >>> s = summary(torch.nn.Conv2d(3, 8, 3), input_size=(1, 3, 32, 32))
        >>> s.totals.params, s.graph.node("output").input_shapes
        (224, [[1, 8, 30, 30]])

    """
    if isinstance(model, Graph):
        graph = model
    elif isinstance(model, (str, Path)):
        from deepscope.graph.onnx import load_onnx

        graph = load_onnx(model)
    else:
        from deepscope.graph.trace import build_graph

        graph = build_graph(model, example_inputs, input_size=input_size)
    return ModelSummary(graph.collapse(depth) if depth is not None else graph)


def _shapes(shapes: list[list[int]]) -> str:
    text = ", ".join("[" + ", ".join(str(d) for d in s) + "]" for s in shapes[:3])
    return text + (", ..." if len(shapes) > 3 else "") if shapes else "-"


def _si(value: int) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return str(value)


def _bytes(value: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value} B"
