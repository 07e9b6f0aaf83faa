"""Graph goldens: the exact nodes and edges of a few models, checked in as JSON.

A change in tracing shows up as a readable diff. Regenerate after an intended change with
``DEEPSCOPE_UPDATE_GOLDENS=1 pytest tests/graph/test_graph_goldens.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from deepscope.graph import build_graph
from models import ZOO

GOLDENS = Path(__file__).parent / "goldens"
UPDATE = os.environ.get("DEEPSCOPE_UPDATE_GOLDENS") == "1"


def compact(data: dict) -> dict:
    keep = ("id", "kind", "type", "parent", "input_shapes", "output_shapes", "params", "flops",
            "calls")  # fmt: skip
    return {
        "tracer": data["tracer"],
        "totals": data["totals"],
        "nodes": [{k: n[k] for k in keep} for n in data["nodes"]],
        "edges": [[e["source"], e["target"], e["shape"]] for e in data["edges"]],
    }


def dumps(golden: dict) -> str:
    """One node or edge per line, so a diff reads like the graph."""
    lines = ["{"]
    lines.append(f' "tracer": {json.dumps(golden["tracer"])},')
    lines.append(f' "totals": {json.dumps(golden["totals"])},')
    for key in ("nodes", "edges"):
        items = [f"  {json.dumps(item)}" for item in golden[key]]
        end = "," if key == "nodes" else ""
        lines.append(f' "{key}": [\n' + ",\n".join(items) + "\n ]" + end)
    return "\n".join(lines) + "\n}\n"


@pytest.mark.parametrize("name", ["resnet", "transformer", "dict", "shared"])
def test_graph_matches_golden(name: str) -> None:
    torch.manual_seed(0)
    model, batch = ZOO[name]()
    got = compact(build_graph(model, (batch,)).to_dict())
    path = GOLDENS / f"{name}.json"
    if UPDATE or not path.exists():
        path.write_text(dumps(got))
        if not UPDATE:
            pytest.fail(f"wrote missing golden {path.name}; review and commit it")
    assert got == json.loads(path.read_text())
