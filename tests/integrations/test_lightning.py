"""The Lightning adapter on a real Lightning Trainer: an MLP on digits, run as ``self.net(x)``."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as L
import pytest
import torch
from frameworks import assert_recorded, digits_arrays, run_python, stat_steps
from torch import nn

import deepscope as ds
from deepscope.integrations.lightning import DeepscopeCallback, DeepscopeLogger


class DigitsModule(L.LightningModule):
    """training_step calls ``self.net(x)``: the watched root's own forward never runs."""

    def __init__(self, lr: float = 1e-2, broken: bool = False, fail_at: int | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))

    def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        if self.hparams.fail_at is not None and self.global_step == self.hparams.fail_at:
            raise RuntimeError("bad batch")
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):  # noqa: ANN201
        # Broken: only the first layer is given to the optimizer (the head is frozen).
        params = self.net[0].parameters() if self.hparams.broken else self.parameters()
        return torch.optim.Adam(params, lr=self.hparams.lr)


def loaders() -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    X, y = digits_arrays()
    x = (torch.as_tensor(X) - 0.3) / 0.4
    y = torch.as_tensor(y)
    train = torch.utils.data.TensorDataset(x[:900], y[:900])
    val = torch.utils.data.TensorDataset(x[900:], y[900:])
    g = torch.Generator().manual_seed(0)
    return (torch.utils.data.DataLoader(train, batch_size=16, shuffle=True, generator=g),
            torch.utils.data.DataLoader(val, batch_size=64))


def fit(module: L.LightningModule, callbacks: list, logger=False, steps: int = 60):  # noqa: ANN001, ANN201
    torch.manual_seed(0)
    trainer = L.Trainer(
        max_steps=steps, accelerator="cpu", devices=1, logger=logger, callbacks=callbacks,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        val_check_interval=20, log_every_n_steps=1, num_sanity_val_steps=0,
    )
    train, val = loaders()
    trainer.fit(module, train, val)
    return trainer


def test_logger_and_callback_record_one_run(tmp_path: Path) -> None:
    torch.manual_seed(0)
    logger = DeepscopeLogger(name="digits", dir=tmp_path / "runs", config={"data": "digits"})
    cb = DeepscopeCallback(every=5)
    fit(DigitsModule(lr=1e-2), [cb], logger)
    run = logger.experiment
    assert cb.run is run
    assert ds.open_run(run.path).meta().status == "running"  # a trainer.test() may follow
    run.finish()
    with ds.open_run(run.path) as r:
        # Statistics through `net` although training_step never calls the module itself.
        assert_recorded(r, "net.0", loss_tag="train_loss")
        assert {"train_loss", "val_loss", "val_acc", "epoch"} <= set(r.scalar_tags())
        assert r.scalars("train_loss").steps.tolist() == list(range(60))
        config = r.meta().config
        assert config["lr"] == 1e-2 and config["broken"] is False and config["data"] == "digits"
        grads = stat_steps(r, "grad")
        assert grads and max(grads) <= 59
        # The optimizer's closure runs forward and backward inside step(): updates belong to the
        # step whose gradients made them.
        assert stat_steps(r, "update") == grads
        assert r.scalars("val_acc").values[-1] > 0.7
    assert ds.diagnose(run).ok


def test_callback_alone_records_the_training_step_loss(tmp_path: Path) -> None:
    cb = DeepscopeCallback(name="alone", dir=tmp_path / "runs", every=5)
    fit(DigitsModule(), [cb], steps=50)
    with ds.open_run(cb.run.path) as r:
        assert r.meta().status == "finished" and r.meta().name == "alone"
        assert_recorded(r, "net.2", loss_tag="train/loss")


def test_frozen_head_and_tiny_lr_are_diagnosed(tmp_path: Path) -> None:
    logger = DeepscopeLogger(dir=tmp_path / "runs")
    fit(DigitsModule(lr=1e-7, broken=True), [DeepscopeCallback(every=5)], logger, steps=50)
    found = ds.diagnose(logger.experiment)
    assert {"frozen_parameters", "loss_plateau"} <= set(found.codes("info")), found.to_text()
    assert any(f.code == "frozen_parameters" and f.layer == "net.2" for f in found.findings)


def test_a_training_that_raises_ends_crashed(tmp_path: Path) -> None:
    logger = DeepscopeLogger(dir=tmp_path / "runs")
    with pytest.raises(RuntimeError, match="bad batch"):
        fit(DigitsModule(fail_at=7), [DeepscopeCallback()], logger)
    meta = ds.open_run(logger.experiment.path).meta()
    assert meta.status == "crashed" and meta.error == "RuntimeError: bad batch"


def test_missing_lightning_fails_at_construction(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['lightning'] = None\n"
        "from deepscope.integrations.lightning import DeepscopeLogger\n"
        "from deepscope.errors import OptionalDependencyError\n"
        "try:\n    DeepscopeLogger()\nexcept OptionalDependencyError as e:\n    print(e)\n"
    )
    out = run_python(code, tmp_path)
    assert out.stdout.strip() == (
        'deepscope.integrations.lightning.DeepscopeLogger needs lightning: '
        'pip install "deepscope[lightning]"'
    ), out.stderr
