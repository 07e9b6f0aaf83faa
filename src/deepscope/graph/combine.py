"""One stored graph for a run that watches several models (or a submodule of one).

Each graph is placed under a container node named by its prefix (the watch name ``G``, or the
path of the module training entered, ``net``), so node ids equal the run's layer names (``G.0``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from deepscope.graph.model import FORMAT


def _prefixed(prefix: str, graph: dict[str, Any]) -> tuple[list[dict], list[dict], dict]:
    nodes, edges = copy.deepcopy(graph["nodes"]), copy.deepcopy(graph["edges"])
    if not prefix:
        return nodes, edges, {}
    for n in nodes:
        n["id"] = n["name"] = f"{prefix}.{n['id']}"
        n["parent"] = f"{prefix}.{n['parent']}" if n["parent"] is not None else prefix
        n["depth"] = int(n.get("depth", 0)) + 1
    for e in edges:
        e["source"], e["target"] = f"{prefix}.{e['source']}", f"{prefix}.{e['target']}"
    totals = graph["totals"]
    container = {
        "id": prefix, "name": prefix, "label": f"{prefix}: {graph['model']}",
        "type": graph["model"], "kind": "module", "parent": None, "depth": 0,
        "is_container": True, "input_shapes": [], "output_shapes": [], "dtype": None,
        "params": totals.get("params", 0), "trainable_params": totals.get("trainable_params", 0),
        "flops": totals.get("flops", 0), "activation_bytes": totals.get("activation_bytes", 0),
        "calls": 1,
    }
    return nodes, edges, container


def combine_graphs(parts: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Graphs (``Graph.to_dict()``) under their prefixes, as one graph dict.

    Example:
        >>> import torch
        >>> from deepscope.graph import build_graph
        >>> g = build_graph(torch.nn.Sequential(torch.nn.Linear(2, 2)), input_size=(1, 2)).to_dict()
        >>> [n["id"] for n in combine_graphs([("G", g), ("D", g)])["nodes"]][:3]
        ['G', 'G.input:input', 'G.0']

    """
    if len(parts) == 1 and not parts[0][0]:
        return parts[0][1]
    nodes: list[dict] = []
    edges: list[dict] = []
    totals = {"params": 0, "trainable_params": 0, "flops": 0, "activation_bytes": 0,
              "shared_params": 0}
    notes: list[str] = []
    tracers = []
    for prefix, graph in parts:
        n, e, container = _prefixed(prefix, graph)
        nodes += ([container] if container else []) + n
        edges += e
        for k in totals:
            totals[k] += int(graph["totals"].get(k, 0))
        notes += [f"{prefix}: {note}" if prefix else note for note in graph.get("notes", [])]
        tracers.append(graph.get("tracer", ""))
    return {
        "format": FORMAT,
        "model": " + ".join(f"{p or 'model'}: {g['model']}" for p, g in parts),
        "tracer": tracers[0] if len(set(tracers)) == 1 else "+".join(tracers),
        "notes": notes,
        "nodes": nodes,
        "edges": edges,
        "totals": totals,
    }
