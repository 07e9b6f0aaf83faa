"""Text exports of a graph: Graphviz DOT and Mermaid flowcharts, containers as clusters."""

from __future__ import annotations

import re

from deepscope.graph.model import Graph, Node


def _shape(shape: list[int] | None) -> str:
    return "x".join(str(d) for d in shape) if shape else ""


def children_map(graph: Graph) -> dict[str | None, list[Node]]:
    """Nodes grouped by parent in graph order (one pass; ``Graph.children`` is per call)."""
    out: dict[str | None, list[Node]] = {}
    for n in graph.nodes:
        out.setdefault(n.parent, []).append(n)
    return out


def _dot_quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_dot(graph: Graph) -> str:
    """Graphviz DOT text; containers are nested ``cluster`` subgraphs, edges show shapes.

    Example:
        >>> import torch
        >>> from deepscope.graph import build_graph
        >>> print(to_dot(build_graph(torch.nn.Linear(2, 2), input_size=(1, 2))).splitlines()[0])
        digraph "Linear" {

    """
    lines = [f"digraph {_dot_quote(graph.model)} {{", "  rankdir=TB;", "  node [shape=box];"]
    kids = children_map(graph)

    def emit(parent: str | None, indent: str) -> None:
        for n in kids.get(parent, []):
            if n.kind == "module" and n.is_container:
                lines.append(f"{indent}subgraph {_dot_quote('cluster_' + n.id)} {{")
                lines.append(f"{indent}  label={_dot_quote(n.label)};")
                emit(n.id, indent + "  ")
                lines.append(f"{indent}}}")
            else:
                label = _dot_quote(_text(n))
                lines.append(f"{indent}{_dot_quote(n.id)} [label={label}{_style(n)}];")

    emit(None, "  ")
    for e in graph.edges:
        label = f" [label={_dot_quote(_shape(e.shape))}]" if e.shape else ""
        lines.append(f"  {_dot_quote(e.source)} -> {_dot_quote(e.target)}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _text(n: Node) -> str:
    if n.kind in ("input", "output"):
        shapes = n.output_shapes or n.input_shapes
        return f"{n.label}\n{_shape(shapes[0]) if shapes else ''}".strip()
    return n.label


def _style(n: Node) -> str:
    if n.kind in ("input", "output"):
        return ", shape=ellipse"
    if n.kind == "op":
        return ", shape=oval, style=dashed"
    return ""


_SAFE = re.compile(r"[^A-Za-z0-9_]")


def to_mermaid(graph: Graph) -> str:
    """Mermaid ``flowchart`` text; containers become subgraphs.

    Example:
        >>> import torch
        >>> from deepscope.graph import build_graph
        >>> to_mermaid(build_graph(torch.nn.Linear(2, 2), input_size=(1, 2))).splitlines()[0]
        'flowchart TB'

    """
    ids: dict[str, str] = {}

    def mid(node_id: str) -> str:
        if node_id not in ids:
            ids[node_id] = f"n{len(ids)}_{_SAFE.sub('_', node_id)[:40]}"
        return ids[node_id]

    lines = ["flowchart TB"]
    kids = children_map(graph)

    def emit(parent: str | None, indent: str) -> None:
        for n in kids.get(parent, []):
            label = _mermaid_text(_text(n).replace("\n", "<br/>"))
            if n.kind == "module" and n.is_container:
                lines.append(f'{indent}subgraph {mid(n.id)}["{label}"]')
                emit(n.id, indent + "  ")
                lines.append(f"{indent}end")
            elif n.kind in ("input", "output"):
                lines.append(f'{indent}{mid(n.id)}(["{label}"])')
            elif n.kind == "op":
                lines.append(f'{indent}{mid(n.id)}("{label}")')
            else:
                lines.append(f'{indent}{mid(n.id)}["{label}"]')

    emit(None, "  ")
    for e in graph.edges:
        shape = _shape(e.shape)
        arrow = f' -->|"{shape}"| ' if shape else " --> "
        lines.append(f"  {mid(e.source)}{arrow}{mid(e.target)}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")
