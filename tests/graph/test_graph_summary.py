"""ds.summary and the `deepscope summary` command: table, JSON, DOT and Mermaid from one graph."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import deepscope as ds
from deepscope.cli import app
from deepscope.graph.summary import ModelSummary, summary
from models import MLP, ResNetTiny

runner = CliRunner()


def test_summary_table_lists_hierarchy_shapes_and_totals() -> None:
    s = summary(ResNetTiny(), input_size=(2, 1, 8, 8))
    assert isinstance(s, ModelSummary)
    text = str(s)
    assert "blocks (Sequential)" in text and "    conv1 (Conv2d)" in text
    assert "[2, 8, 8, 8]" in text
    assert f"Total params: {sum(p.numel() for p in ResNetTiny().parameters()):,}" in text
    assert "tracer: fx" in text
    assert s.totals.params == s.to_dict()["totals"]["params"]


def test_public_summary_and_depth_collapse() -> None:
    s = ds.summary(ResNetTiny(), torch.randn(1, 1, 8, 8), depth=1)
    rows = [n.id for n in s.rows()]
    assert rows == ["stem", "blocks", "::mean", "head"]
    assert "collapsed below depth 1" in str(s)


def test_dot_and_mermaid_contain_clusters_nodes_and_shaped_edges() -> None:
    s = summary(ResNetTiny(), input_size=(2, 1, 8, 8))
    dot = s.to_dot()
    assert dot.startswith('digraph "ResNetTiny" {') and dot.rstrip().endswith("}")
    assert 'subgraph "cluster_blocks.0" {' in dot
    assert '"stem" -> "blocks.0::add" [label="2x8x8x8"];' in dot
    mermaid = s.to_mermaid()
    assert mermaid.startswith("flowchart TB")
    assert mermaid.count("subgraph ") == mermaid.count("\n    end") + mermaid.count("\n  end")
    assert '-->|"2x8x8x8"|' in mermaid


def test_cli_formats_on_a_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "zoo_factory.py").write_text(
        "import torch\n"
        "def make():\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU())\n"
    )
    monkeypatch.chdir(tmp_path)
    base = ["summary", "zoo_factory:make", "--input-size", "1,3,8,8"]
    table = runner.invoke(app, base)
    assert table.exit_code == 0, table.output
    assert "0 (Conv2d)" in table.output and "[1, 4, 6, 6]" in table.output
    data = json.loads(runner.invoke(app, [*base, "--format", "json"]).output)
    assert data["format"] == "deepscope.graph/1" and data["totals"]["params"] == 112
    assert runner.invoke(app, [*base, "--format", "dot"]).output.startswith("digraph")
    assert runner.invoke(app, [*base, "--format", "mermaid"]).output.startswith("flowchart")


def test_cli_factory_returning_model_and_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "zoo_pair.py").write_text(
        "import torch\n"
        "def make():\n"
        "    model = torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 3))\n"
        "    return model, torch.randint(0, 50, (2, 5))\n"
    )
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["summary", "zoo_pair:make", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tracer"] == "fx"
    assert [n["output_shapes"] for n in data["nodes"] if n["id"] == "1"] == [[[2, 5, 3]]]


def test_cli_onnx_file_and_depth(tmp_path: Path) -> None:
    path, model = tmp_path / "mlp.onnx", MLP().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(2, 64),), str(path), dynamo=False)
    result = runner.invoke(app, ["summary", str(path), "--format", "json", "--depth", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tracer"] == "onnx"
    assert data["totals"]["params"] == sum(p.numel() for p in model.parameters())
    assert all(n["depth"] == 0 for n in data["nodes"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["summary", "nowhere.onnx"], "no such file"),
        (["summary", "just_a_word"], "expected an .onnx file or pkg.module:factory"),
        (["summary", "no_such_pkg_xyz:f"], "cannot import 'no_such_pkg_xyz'"),
        (["summary", "torch.nn:Nope"], "has no attribute 'Nope'"),
        (["summary", "torch.nn:Linear"], "calling 'torch.nn:Linear()' failed"),
        (["summary", "torch.nn:Identity", "--input-size", "1,a"], "--input-size must look like"),
        (["summary", "torch.nn:Identity", "--format", "png"], "--format must be"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_corrupt_onnx_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01garbage")
    result = runner.invoke(app, ["summary", str(bad)])
    assert result.exit_code == 2 and "is not a readable ONNX model" in result.output
