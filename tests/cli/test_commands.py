"""The command line: --version, explain on the user's own data and package, summary errors,
FLOPs that say per what, and ls agreeing with the dashboard on the last step.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import deepscope as ds
from deepscope.cli import app
from deepscope.cli.explain_data import load_dataset
from deepscope.errors import InvalidArgumentError
from deepscope.store.catalog import find_runs

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"deepscope {ds.__version__}"


@pytest.fixture()
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's project: ``mypkg/models.py`` with a factory, run from the project's folder."""
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "models.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        def tabular():
            torch.manual_seed(0)
            return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))

        def image():
            torch.manual_seed(0)
            return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(),
                                 nn.Linear(2 * 6 * 6, 2))
        """))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _tabular_files(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    np.savez(folder / "data.npz", X=X, y=y, feature_names=np.array(["a", "b", "c"]))
    np.save(folder / "inputs.npy", X)
    lines = ["a,b,c,label"] + [f"{r[0]},{r[1]},{r[2]},{'yes' if t else 'no'}"
                               for r, t in zip(X, y, strict=True)]
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    return {"npz": folder / "data.npz", "npy": folder / "inputs.npy", "csv": folder / "data.csv"}


def test_explain_imports_from_the_working_directory_and_reads_user_files(package: Path) -> None:
    files = _tabular_files(package)
    for kind in ("npz", "csv"):
        result = runner.invoke(app, ["explain", "predictions", "mypkg.models:tabular",
                                     "--dataset", str(files[kind]), "--dir", "runs"])
        assert result.exit_code == 0, result.output
        assert "no --weights given" in result.output and "untrained" in result.output
    result = runner.invoke(app, ["explain", "attribute", "mypkg.models:tabular", "--dataset",
                                 str(files["npy"]), "--n", "4", "--method", "saliency",
                                 "--dir", "runs"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["explain", "importance", "mypkg.models:tabular", "--dataset",
                                 str(files["npy"]), "--dir", "runs"])
    assert result.exit_code == 2 and "needs labels" in result.output
    assert len(find_runs(package / "runs")) == 3
    csv = load_dataset(str(files["csv"]))
    assert csv["classes"] == ["no", "yes"] and csv["feature_names"] == ["a", "b", "c"]


def test_explain_reads_an_image_folder(package: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (package / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            pixels = (rng.random((6, 6)) * 255).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(package / "imgs" / cls / f"{i}.png")
    data = load_dataset(str(package / "imgs"))
    assert data["X"].shape == (6, 1, 6, 6) and data["classes"] == ["cats", "dogs"]
    assert data["y"].tolist() == [0, 0, 0, 1, 1, 1] and data["images"]
    result = runner.invoke(app, ["explain", "predictions", "mypkg.models:image", "--dataset",
                                 str(package / "imgs"), "--dir", "runs"])
    assert result.exit_code == 0, result.output
    Image.fromarray(np.zeros((4, 4), np.uint8), mode="L").save(package / "imgs" / "cats" / "x.png")
    with pytest.raises(InvalidArgumentError, match="differ in size"):
        load_dataset(str(package / "imgs"))


def test_explain_refuses_unknown_data_with_one_line(package: Path) -> None:
    (package / "notes.txt").write_text("x")
    for spec, message in (("nope", "unknown dataset"), ("notes.txt", ".npz, .npy or .csv")):
        result = runner.invoke(app, ["explain", "predictions", "mypkg.models:tabular",
                                     "--dataset", spec, "--dir", "runs"])
        assert result.exit_code == 2 and message in result.output, result.output


def test_summary_with_a_wrong_input_shape_is_an_error(package: Path) -> None:
    result = runner.invoke(app, ["summary", "mypkg.models:tabular", "--input-size", "1,5"])
    assert result.exit_code == 2
    assert "forward pass failed with --input-size 1,5" in result.output
    assert "check the input shape" in result.output
    ok = runner.invoke(app, ["summary", "mypkg.models:tabular", "--input-size", "4,3"])
    assert ok.exit_code == 0 and "per forward pass on input [4, 3] (batch of 4)" in ok.output


def test_ls_shows_the_last_step_the_dashboard_shows(runs_dir: Path) -> None:
    from fastapi.testclient import TestClient

    from deepscope.server.app import create_app

    run = ds.init(name="steps", dir=runs_dir)
    for step in range(184):
        run.log({"loss": 1.0}, step=step)
    run.finish()
    api = TestClient(create_app(runs_dir), base_url="http://127.0.0.1").get("/api/runs").json()
    assert api[0]["last_step"] == 183
    table = runner.invoke(app, ["ls", str(runs_dir)], env={"COLUMNS": "100"})
    assert "last step" in table.output and " 183 " in table.output and "184" not in table.output
    rows = json.loads(runner.invoke(app, ["ls", str(runs_dir), "--json"]).output)
    assert rows[0]["last_step"] == 183
