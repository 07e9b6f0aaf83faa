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


def test_histograms_hparams_text_and_durations(tmp_path: Path, runs_dir: Path) -> None:
    import numpy as np
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)
    w = SummaryWriter(tmp_path / "tb" / "exp")
    for step in range(4):
        values = rng.normal(step, 1.0 + step, 5000)
        w.add_histogram("fc1.weight", values, step, walltime=1000.0 + step * 10)
        w.add_histogram("gradients/fc2", values * 1e-3, step, walltime=1000.0 + step * 10)
        w.add_scalar("train/loss", 1.0 / (step + 1), step, walltime=1000.0 + step * 10)
    w.add_text("notes", "lr warm-up **on**", 0, walltime=1001.0)
    w.add_hparams({"lr": 0.01, "optimizer": "adam", "bn": True}, {"hparam/acc": 0.91})
    w.close()
    (path,) = import_tensorboard(tmp_path / "tb", runs_dir)  # the hparams sub-run is folded in
    r = ds.open_run(path)
    m = r.meta()
    assert m.config["lr"] == 0.01 and m.config["optimizer"] == "adam"
    assert m.config["bn"] in (True, 1.0)  # torch's add_hparams stores a bool as a number
    assert r.scalars("hparam/acc").values.tolist() == pytest.approx([0.91])
    assert m.started_at == pytest.approx(1000.0) and m.duration >= 30.0  # first to last event
    assert [lay.name for lay in r.layers()] == ["fc1", "fc2"]
    h = r.histograms("fc1", "weight")
    assert h.steps.tolist() == [0, 1, 2, 3] and h.counts.shape == (4, 64)
    assert h.counts.sum(axis=1).tolist() == [5000] * 4
    stats = r.stat_series("fc1", "weight")
    assert stats["mean"][3] == pytest.approx(3.0, abs=0.2)
    assert stats["std"][3] == pytest.approx(4.0, rel=0.05)
    assert r.stat_series("fc2", "grad")["count"].tolist() == [5000.0] * 4
    (text,) = r.events("text")
    assert text.data["tag"] == "notes" and "warm-up" in text.data["text"] and text.step == 0


def test_a_garbage_file_beside_a_good_run_is_skipped_and_said(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(tmp_path / "tb" / "good")
    w.add_scalar("loss", 1.0, 0)
    w.close()
    (tmp_path / "tb" / "bad").mkdir()
    (tmp_path / "tb" / "bad" / "events.out.tfevents.1.x").write_bytes(b"\x00junk" * 50)
    result = CliRunner().invoke(
        app, ["import-tensorboard", str(tmp_path / "tb"), "--dir", str(tmp_path / "runs")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("imported into") == 1 and "skipped" in result.output
