from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import deepscope as ds
from deepscope.cli import app
from deepscope.errors import InvalidArgumentError
from deepscope.integrations.tensorboard_import import import_tensorboard


def test_scalars_round_trip_from_summary_writer(tmp_path: Path, runs_dir: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    for name, scale in (("exp1", 1.0), ("exp2", 2.0)):
        w = SummaryWriter(tmp_path / "tb" / name)
        for step in range(0, 300, 3):
            w.add_scalar("train/loss", scale / (step + 1), step)
            w.add_scalar("val/acc", step / 300, step)
        w.close()
    paths = import_tensorboard(tmp_path / "tb", runs_dir)
    assert len(paths) == 2
    r = ds.open_run(paths[1])
    assert r.meta().name == "tb-exp2" and r.meta().status == "finished"
    loss = r.scalars("train/loss")
    assert loss.steps.tolist() == list(range(0, 300, 3))
    assert loss.values[0] == pytest.approx(2.0)
    assert r.scalar_tags() == ["train/loss", "val/acc"]
    result = CliRunner().invoke(
        app, ["import-tensorboard", str(tmp_path / "tb"), "--dir", str(tmp_path / "again")]
    )
    assert result.exit_code == 0 and result.output.count("imported into") == 2


def test_not_a_logdir(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="no TensorBoard event files"):
        import_tensorboard(tmp_path)
    result = CliRunner().invoke(app, ["import-tensorboard", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such directory" in result.output
