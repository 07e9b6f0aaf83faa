"""Runs that recorded nothing: diagnosis must say the run could not be checked."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import deepscope as ds
from scenarios.common import digits, mlp


def nothing_captured_model_rebuilt(root: Path) -> Path:
    """The model is watched, then rebuilt for the training run (a new instance is trained)."""
    torch.manual_seed(0)
    d = digits()
    model = mlp([64, 64, 10])
    run = ds.init(name="rebuilt", dir=root)
    run.watch(model)
    model = mlp([64, 64, 10])  # e.g. re-created per fold, after watch()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for step in range(80):
        idx = torch.randint(0, len(d.x), (64,))
        loss = nn.functional.cross_entropy(model(d.x[idx]), d.y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
    run.finish()
    return Path(run.path)


def nothing_captured_watch_after_training(root: Path) -> Path:
    """watch() is called after the training loop; only a no_grad evaluation follows."""
    torch.manual_seed(0)
    d = digits()
    model = mlp([64, 64, 10])
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    run = ds.init(name="late-watch", dir=root)
    for step in range(60):
        idx = torch.randint(0, len(d.x), (64,))
        loss = nn.functional.cross_entropy(model(d.x[idx]), d.y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
    run.watch(model, optimizer=opt)
    model.eval()
    with torch.no_grad():
        run.log({"val/loss": nn.functional.cross_entropy(model(d.xv), d.yv).item()}, step=59)
    run.finish()
    return Path(run.path)
