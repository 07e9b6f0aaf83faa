from __future__ import annotations

import importlib.util
import textwrap

import pytest
import torch
from typer.testing import CliRunner

from deepscope.cli import app
from deepscope.explain import load
from deepscope.store import open_reader
from deepscope.store.catalog import find_runs

runner = CliRunner()


@pytest.fixture()
def factory(tmp_path):
    path = tmp_path / "zoo.py"
    path.write_text(
        textwrap.dedent("""
        import torch
        from torch import nn

        def mlp():
            torch.manual_seed(0)
            return nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))

        def cnn():
            torch.manual_seed(0)
            return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(256, 10))

        def tabular():
            torch.manual_seed(0)
            return nn.Sequential(nn.Linear(30, 8), nn.ReLU(), nn.Linear(8, 2))

        def moons():
            torch.manual_seed(0)
            return nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    """)
    )
    return path


def _only_artifact(root):
    ((run_id, path),) = find_runs(root)
    with open_reader(path, run_id) as r:
        (info,) = r.artifacts()
        return r.meta(), load(r.artifact(info.id))


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (
            ["embed", "{f}:mlp", "--dataset", "digits-flat", "--layer", "1", "--n", "200"],
            "embedding",
        ),
        (["attribute", "{f}:cnn", "--method", "grad_cam", "--n", "4"], "attributions"),
        (["predictions", "{f}:cnn"], "predictions"),
        (["weights", "{f}:cnn"], "weights"),
        (["importance", "{f}:tabular", "--repeats", "2"], "feature_importance"),
        (["boundary", "{f}:moons"], "decision_boundary"),
    ],
)
def test_each_command_stores_one_artifact_in_a_new_run(factory, tmp_path, args, kind):
    root = tmp_path / "runs"
    argv = ["explain", *[a.format(f=factory) for a in args], "--dir", str(root)]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    meta, res = _only_artifact(root)
    assert res.kind == kind
    assert meta.status == "finished" and meta.config["command"] == f"explain {args[0]}"


def test_weights_file_is_loaded(factory, tmp_path):
    spec = importlib.util.spec_from_file_location("zoo_for_test", factory)
    zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo)
    model = zoo.cnn()
    with torch.no_grad():
        model[0].weight.fill_(0.5)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    root = tmp_path / "runs"
    result = runner.invoke(
        app,
        [
            "explain",
            "weights",
            f"{factory}:cnn",
            "--weights",
            str(tmp_path / "w.pt"),
            "--dir",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    _, res = _only_artifact(root)
    # A 4 x 9 matrix of 0.5 has one singular value 0.5 * sqrt(36); the factory's random one not.
    assert res.layer("0")["singular_values"][0] == pytest.approx(3.0, rel=1e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["embed", "nocolon"], "module:function"),
        (["embed", "{f}:missing"], "no callable 'missing'"),
        (["embed", "no_such_module_xyz:f"], "cannot import"),
        (["embed", "{f}:mlp", "--dataset", "imagenet"], "unknown dataset"),
        (["embed", "{f}:mlp", "--dataset", "digits-flat", "--method", "umap"], "deepscope[umap]"),
        (["weights", "{f}:cnn", "--weights", "{f}"], "cannot load weights"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(factory, tmp_path, args, message):
    if "umap" in args and importlib.util.find_spec("umap") is not None:
        pytest.skip("umap-learn is installed")
    argv = ["explain", *[a.format(f=factory) for a in args], "--dir", str(tmp_path / "runs")]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
