"""Model structure: the architecture graph with module hierarchy, shapes, parameters and FLOPs.

``build_graph(model, example_inputs)`` traces a PyTorch model (torch.fx, else hooks, else the
module tree); ``load_onnx(path)`` reads an ONNX file into the same schema;
``deepscope.graph.summary.summary`` wraps a graph in a table with DOT and Mermaid exports.
"""

from __future__ import annotations

from deepscope.graph.model import Edge, Graph, Node, Totals
from deepscope.graph.onnx import load_onnx  # the onnx package is imported on first use
from deepscope.graph.trace import build_graph

__all__ = ["Edge", "Graph", "Node", "Totals", "build_graph", "load_onnx"]
