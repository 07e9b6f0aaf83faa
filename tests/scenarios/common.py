"""Shared data and training loop of the diagnosis scenarios (bundled scikit-learn data only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

import deepscope as ds


@dataclass
class Data:
    x: torch.Tensor
    y: torch.Tensor
    xv: torch.Tensor
    yv: torch.Tensor


def _split(x: np.ndarray, y: np.ndarray, *, scale: bool, seed: int = 0, train: float = 0.75,
           y_float: bool = False) -> Data:
    xt, xv, yt, yv = train_test_split(x, y, train_size=train, random_state=seed)
    if scale:
        sc = StandardScaler().fit(xt)
        xt, xv = sc.transform(xt), sc.transform(xv)
    ty = torch.float32 if y_float else torch.long
    return Data(torch.tensor(xt, dtype=torch.float32), torch.tensor(yt, dtype=ty),
                torch.tensor(xv, dtype=torch.float32), torch.tensor(yv, dtype=ty))


def digits(scale: bool = True, **kw: Any) -> Data:
    """8x8 digits, 64 features (raw values 0..16)."""
    d = datasets.load_digits()
    return _split(d.data, d.target, scale=scale, **kw)


def digit_images(factor: float = 1 / 16) -> Data:
    """Digits as (N, 1, 8, 8) images scaled by ``factor`` (1/16: [0, 1]; 16: raw-pixel-like)."""
    d = datasets.load_digits()
    x = (d.data * factor).reshape(-1, 1, 8, 8)
    return _split(x, d.target, scale=False)


def digit_rows() -> Data:
    """Digits as sequences of 8 rows of 8 pixels (N, 8, 8), scaled to [0, 1]."""
    d = datasets.load_digits()
    return _split((d.data / 16.0).reshape(-1, 8, 8), d.target, scale=False)


def breast_cancer(scale: bool = True, **kw: Any) -> Data:
    d = datasets.load_breast_cancer()
    return _split(d.data, d.target, scale=scale, **kw)


def wine(scale: bool = True) -> Data:
    d = datasets.load_wine()
    return _split(d.data, d.target, scale=scale)


def moons(n: int = 1000, noise: float = 0.2) -> Data:
    x, y = datasets.make_moons(n_samples=n, noise=noise, random_state=0)
    return _split(x, y, scale=True)


def diabetes() -> Data:
    d = datasets.load_diabetes()
    y = (d.target - d.target.mean()) / d.target.std()
    return _split(d.data, y, scale=True, y_float=True)


@dataclass
class Setup:
    """One training: what a scenario varies."""

    name: str
    model: nn.Module
    opt: torch.optim.Optimizer
    data: Data
    steps: int = 300
    batch: int = 64
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.cross_entropy
    val_every: int = 25
    watch_optimizer: bool = True
    every: int = 10
    config: dict[str, Any] = field(default_factory=dict)
    #: Called with (step, x, y) before the forward; may return a modified (x, y).
    corrupt: Callable[[int, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None \
        = None


def train(setup: Setup, root: Path) -> Path:
    """Train with the public API, logging ``train/loss`` every step and ``val/loss`` regularly."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    d, model = setup.data, setup.model
    run = ds.init(name=setup.name, dir=root, config=setup.config)
    run.watch(model, optimizer=setup.opt if setup.watch_optimizer else None, every=setup.every)
    n = len(d.x)
    for step in range(setup.steps):
        idx = torch.randint(0, n, (min(setup.batch, n),), generator=gen)
        x, y = d.x[idx], d.y[idx]
        if setup.corrupt is not None:
            x, y = setup.corrupt(step, x, y)
        model.train()
        loss = setup.loss(model(x), y)
        setup.opt.zero_grad()
        loss.backward()
        setup.opt.step()
        run.log({"train/loss": loss.item()}, step=step)
        if (step + 1) % setup.val_every == 0:
            model.eval()
            with torch.no_grad():
                run.log({"val/loss": setup.loss(model(d.xv), d.yv).item()}, step=step)
    run.finish()
    return Path(run.path)


def bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on logits of shape (N, 1) with integer labels."""
    return nn.functional.binary_cross_entropy_with_logits(out.squeeze(-1), y.float())


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(out.squeeze(-1), y)


def mlp(sizes: list[int], act: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``act`` between them (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)
