"""ONNX files exported by torch.onnx.export read into the same schema; bad files fail clearly."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

from deepscope.errors import GraphError, InvalidArgumentError
from deepscope.graph import Graph, build_graph, load_onnx
from models import MLP, ResNetTiny


def export(model: torch.nn.Module, x: torch.Tensor, path: Path, dynamo: bool = False) -> Path:
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), dynamo=dynamo, input_names=["x"])
    return path


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_torchscript_export_of_a_residual_cnn(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, x = ResNetTiny(), torch.randn(2, 1, 8, 8)
    g = load_onnx(export(model, x, tmp_path / "resnet.onnx"))
    assert isinstance(g, Graph) and g.tracer == "onnx"
    # BatchNorm folds into the preceding convolutions at export (same weight and bias shapes),
    # so the ONNX file holds the model's parameters minus the BatchNorm affine ones
    bn = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)
             for p in m.parameters())  # fmt: skip
    assert g.totals.params == n_params(model) - bn
    convs = [n for n in g.nodes if n.type == "Conv"]
    assert len(convs) == 5
    assert g.node("input:x").output_shapes == [[2, 1, 8, 8]]
    assert g.node("output").input_shapes == [[2, 10]]
    assert g.node("stem").output_shapes == [[2, 8, 8, 8]] and g.node("stem").kind == "module"
    assert g.node("stem").flops == 2 * 2 * 8 * 8 * 8 * 9
    assert g.node("blocks.0").is_container
    assert g.node("blocks.0").input_shapes == g.node("blocks.0").output_shapes == [[2, 8, 8, 8]]
    adds = [n for n in g.nodes if n.type == "Add"]
    assert len(adds) == 2 and adds[0].parent == "blocks.0"
    sources = {e.source for e in g.edges if e.target == adds[0].id}
    assert "stem" in sources and len(sources) == 2  # the skip connection is an edge
    assert g.totals.params == sum(n.params for n in g.nodes if n.kind == "op" or not n.is_container)
    assert Graph.from_dict(g.to_dict()).to_dict() == g.to_dict()


def test_mlp_initializers_are_the_parameters(tmp_path: Path) -> None:
    model = MLP()
    g = load_onnx(export(model, torch.randn(4, 64), tmp_path / "mlp.onnx"))
    assert g.totals.params == n_params(model)
    gemms = [n for n in g.nodes if n.type == "Gemm"]
    assert [n.flops for n in gemms] == [2 * 4 * 64 * 32, 2 * 4 * 32 * 32, 2 * 4 * 32 * 10]
    assert g.totals.flops == build_graph(model, torch.randn(4, 64)).totals.flops


def test_dynamo_export_carries_module_names_and_types(tmp_path: Path) -> None:
    pytest.importorskip("onnxscript")
    model = MLP()
    g = load_onnx(export(model, torch.randn(4, 64), tmp_path / "mlp_dynamo.onnx", dynamo=True))
    assert g.totals.params == n_params(model)
    assert g.node("head").type == "Linear" and g.node("body").type == "Sequential"
    assert g.node("head").output_shapes == [[4, 10]]


@pytest.mark.parametrize(
    "content",
    [b"", b"not an onnx model at all\n", b"\x08\x07\x12\x04junk\xff\xfe\x00\x01" * 8],
    ids=["empty", "text", "garbage"],
)
def test_corrupt_files_give_a_one_line_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(GraphError, match="is not a readable ONNX model") as err:
        load_onnx(path)
    assert "\n" not in str(err.value)


def test_truncated_file_and_missing_file(tmp_path: Path) -> None:
    good = export(MLP(), torch.randn(4, 64), tmp_path / "mlp.onnx").read_bytes()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(GraphError, match="cut.onnx"):
        load_onnx(cut)
    with pytest.raises(InvalidArgumentError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")


def test_hand_built_onnx_without_scopes(tmp_path: Path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Relu", ["h"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [w],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(path))
    g = load_onnx(path)
    assert g.model == "tiny" and g.totals.params == 12
    assert [n.id for n in g.nodes] == ["input:x", "::MatMul", "::Relu", "output"]
    assert g.node("::MatMul").output_shapes == [[-1, 3]]  # symbolic batch dimension
    assert {(e.source, e.target) for e in g.edges} == {
        ("input:x", "::MatMul"), ("::MatMul", "::Relu"), ("::Relu", "output")
    }  # fmt: skip


def test_torchscript_export_merges_repeated_calls_into_one_module(tmp_path: Path) -> None:
    model = ResNetTiny()  # each block calls its ReLU twice
    g = load_onnx(export(model, torch.randn(1, 1, 8, 8), tmp_path / "r.onnx"))
    relu = g.node("blocks.0.relu")
    assert relu.is_container and len([n for n in g.nodes if n.parent == "blocks.0.relu"]) == 2
    assert "blocks.0.relu_1" not in {n.id for n in g.nodes}
