"""The one structure model shared by the summary table, the CLI, the dashboard and the report.

A :class:`Graph` has module nodes (ids = qualified names from ``model.named_modules()``, nested
through ``parent``), op nodes for the functional operations between modules, and input/output
nodes. Edges connect leaf-level nodes and carry the tensor's shape and dtype; containers group
their descendants. ``to_dict()`` is the stored and served JSON shape (``deepscope.graph/1``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from deepscope.errors import GraphError

FORMAT = "deepscope.graph/1"
KINDS = ("module", "op", "input", "output")


@dataclass
class Node:
    """One module, operation, input or output.

    Example:
        >>> Node(id="fc", name="fc", label="fc: Linear", type="Linear", kind="module").depth
        0

    """

    id: str
    name: str
    label: str
    type: str
    kind: str
    parent: str | None = None
    depth: int = 0
    is_container: bool = False
    input_shapes: list[list[int]] = field(default_factory=list)
    output_shapes: list[list[int]] = field(default_factory=list)
    dtype: str | None = None
    params: int = 0
    trainable_params: int = 0
    flops: int = 0
    activation_bytes: int = 0
    calls: int = 0


@dataclass
class Edge:
    """A tensor flowing from one leaf-level node to another.

    Example:
        >>> Edge("conv1", "bn1", [1, 64, 32, 32], "float32").shape
        [1, 64, 32, 32]

    """

    source: str
    target: str
    shape: list[int] | None = None
    dtype: str | None = None


@dataclass
class Totals:
    """Whole-model totals; ``params`` equals ``sum(p.numel() for p in model.parameters())``."""

    params: int = 0
    trainable_params: int = 0
    flops: int = 0
    activation_bytes: int = 0
    shared_params: int = 0


@dataclass
class Graph:
    """Architecture graph of one model (see the module docstring for the shape).

    Example:
        >>> import torch
        >>> from deepscope.graph import build_graph
        >>> g = build_graph(torch.nn.Sequential(torch.nn.Linear(4, 2)), input_size=(1, 4))
        >>> g.tracer, g.totals.params, [e.target for e in g.edges]
        ('fx', 10, ['0', 'output'])

    """

    model: str
    tracer: str
    nodes: list[Node]
    edges: list[Edge]
    totals: Totals
    notes: list[str] = field(default_factory=list)

    def node(self, node_id: str) -> Node:
        """The node with this id (``KeyError`` if absent)."""
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    def children(self, node_id: str | None) -> list[Node]:
        """Nodes whose parent is ``node_id`` (None: top level), in graph order."""
        return [n for n in self.nodes if n.parent == node_id]

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape stored in runs and rendered by the dashboard and report."""
        return {
            "format": FORMAT,
            "model": self.model,
            "tracer": self.tracer,
            "notes": list(self.notes),
            "nodes": [asdict(n) for n in self.nodes],
            "edges": [asdict(e) for e in self.edges],
            "totals": asdict(self.totals),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graph:
        """Rebuild a graph from :meth:`to_dict` output (e.g. ``reader.graph()``)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise GraphError(f"not a {FORMAT} graph")
        node_keys = {f.name for f in fields(Node)}
        try:
            nodes = [Node(**{k: v for k, v in n.items() if k in node_keys}) for n in data["nodes"]]
            edges = [Edge(**e) for e in data["edges"]]
            totals = Totals(**data["totals"])
        except (KeyError, TypeError) as err:
            raise GraphError(f"malformed graph data: {err}") from None
        return cls(data["model"], data["tracer"], nodes, edges, totals, list(data["notes"]))

    def collapse(self, depth: int) -> Graph:
        """A copy showing only nodes above ``depth`` (1 = top-level modules); deeper nodes merge
        into their ancestor, which becomes a leaf, and edges are rerouted and deduplicated.

        Example:
            >>> import torch
            >>> from deepscope.graph import build_graph
            >>> m = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU()))
            >>> [n.id for n in build_graph(m).collapse(1).nodes if n.kind == "module"]
            ['0']

        """
        if depth < 1:
            raise GraphError(f"depth must be at least 1, got {depth}")
        by_id = {n.id: n for n in self.nodes}

        def home(node: Node) -> str:
            while node.depth >= depth and node.parent is not None:
                node = by_id[node.parent]
            return node.id

        target = {n.id: home(n) for n in self.nodes}
        nodes = []
        for n in self.nodes:
            if target[n.id] != n.id:
                continue
            copy = Node(**asdict(n))
            if n.is_container and any(target[c.id] == n.id for c in self.nodes if c.id != n.id):
                copy.is_container = False
            nodes.append(copy)
        edges: dict[tuple[str, str], Edge] = {}
        for e in self.edges:
            s, t = target[e.source], target[e.target]
            if s != t and (s, t) not in edges:
                edges[(s, t)] = Edge(s, t, e.shape, e.dtype)
        notes = [*self.notes, f"collapsed below depth {depth}"]
        return Graph(self.model, self.tracer, nodes, list(edges.values()), self.totals, notes)
