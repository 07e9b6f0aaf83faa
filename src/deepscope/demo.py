"""Two demo trainings on scikit-learn's bundled digits: a healthy CNN and a broken one.

The broken run makes three classic mistakes at once: raw pixel values (0..16) instead of
standardised inputs, a learning rate far too high for plain SGD, and the first fully connected
layer left out of the optimizer. Both train on CPU in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

import deepscope as ds


class DigitsCNN(nn.Module):
    """A small CNN for 8x8 digits: two conv blocks, then two fully connected layers."""

    def __init__(self, channels: int = 16, hidden: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc1 = nn.Linear(2 * channels * 16, hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.features(x).flatten(1))))


@dataclass(frozen=True)
class DemoConfig:
    """What differs between the healthy and the broken demo run."""

    name: str
    lr: float
    optimizer: str
    standardise: bool
    freeze_fc1: bool
    epochs: int = 8
    batch_size: int = 64


HEALTHY = DemoConfig(
    "demo-healthy-cnn", lr=1e-3, optimizer="adam", standardise=True, freeze_fc1=False
)
BROKEN = DemoConfig("demo-broken-cnn", lr=0.5, optimizer="sgd", standardise=False, freeze_fc1=True)


def load_digits_split(standardise: bool, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Digits as (N, 1, 8, 8) float tensors, 80/20 split; raw pixels are 0..16."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images.astype(np.float32)
    y = data.target.astype(np.int64)
    idx = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    tr, va = idx[:cut], idx[cut:]
    if standardise:
        mean, std = x[tr].mean(), x[tr].std()
        x = (x - mean) / std
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    return t(x[tr]).unsqueeze(1), t(y[tr]), t(x[va]).unsqueeze(1), t(y[va])


def train_demo(
    cfg: DemoConfig,
    root: str | Path,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 0,
) -> Path:
    """Train one demo configuration into a run under ``root`` and return the run directory."""
    torch.manual_seed(seed)
    xtr, ytr, xva, yva = load_digits_split(cfg.standardise, seed)
    model = DigitsCNN()
    params = [
        p for n, p in model.named_parameters() if not (cfg.freeze_fc1 and n.startswith("fc1."))
    ]
    opt = (
        torch.optim.Adam(params, lr=cfg.lr)
        if cfg.optimizer == "adam"
        else torch.optim.SGD(params, lr=cfg.lr)
    )
    loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = (len(xtr) + cfg.batch_size - 1) // cfg.batch_size
    total = cfg.epochs * steps_per_epoch
    config = {
        "lr": cfg.lr,
        "optimizer": cfg.optimizer,
        "standardise": cfg.standardise,
        "freeze_fc1": cfg.freeze_fc1,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
    }
    with ds.init(name=cfg.name, dir=root, config=config) as run:
        run.watch(model, optimizer=opt, every=5)
        step = 0
        for _epoch in range(cfg.epochs):
            order = torch.randperm(len(xtr))
            model.train()
            for b in range(steps_per_epoch):
                ib = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                opt.zero_grad()
                out = model(xtr[ib])
                loss = loss_fn(out, ytr[ib])
                loss.backward()
                opt.step()
                acc = (out.argmax(1) == ytr[ib]).float().mean().item()
                run.log({"train/loss": loss.item(), "train/acc": acc}, step=step)
                step += 1
                if progress is not None:
                    progress(step, total)
            model.eval()
            with torch.no_grad():
                out = model(xva)
                run.log(
                    {
                        "val/loss": loss_fn(out, yva).item(),
                        "val/acc": (out.argmax(1) == yva).float().mean().item(),
                    },
                    step=step - 1,
                )
        run.unwatch()  # explain forwards are not training steps
        from deepscope.explain.showcase import log_explanations

        log_explanations(run, model, xva, yva, layer="fc1", step=step - 1)
    return run.path
