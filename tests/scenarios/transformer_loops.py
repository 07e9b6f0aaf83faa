"""The training loop of the transformer scenarios: character-level language modelling, watched by
deepscope (with a probe sequence) and measured by a :class:`~scenarios.transformer_probe.RawProbe`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

import deepscope as ds
from scenarios import text
from scenarios.transformer_probe import RawProbe

#: Corrupts a batch at some steps: ``(step, ids, generator) -> ids``.
Corrupt = Callable[[int, torch.Tensor, torch.Generator], torch.Tensor]
#: Draws a batch: ``(generator, size, length) -> ids``.
Data = Callable[[torch.Generator, int, int], torch.Tensor]


@dataclass
class Outcome:
    path: Path
    probe: RawProbe


@dataclass
class LM:
    """One language-model training: what a scenario varies."""

    name: str
    model: nn.Module
    lr: float
    steps: int = 300
    batch: int = 8
    length: int = 32
    warmup: int = 0
    cosine: bool = False
    weight_decay: float = 0.0
    masked: bool = False  # BERT: masked-language modelling
    corrupt: Corrupt | None = None
    data: Data = text.batch
    every: int = 10
    config: dict[str, Any] = field(default_factory=dict)


def _schedule(opt: torch.optim.Optimizer, lm: LM) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / lm.warmup) if lm.warmup else 1.0
        cos = 0.5 * (1 + math.cos(math.pi * step / lm.steps)) if lm.cosine else 1.0
        return warm * max(cos, 0.05 if lm.cosine else 1.0)

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _hf(model: nn.Module) -> bool:
    return hasattr(model, "config")


def _forward(lm: LM, x: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(loss, logits)`` of one batch of windows."""
    if lm.masked:
        ids = x.clone()
        mask = torch.rand(ids.shape, generator=gen) < 0.15
        ids[mask] = 0  # id 0 doubles as [MASK]
        labels = torch.where(mask, x, torch.full_like(x, -100))
        logits = lm.model(input_ids=ids).logits
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)), logits
    inp, target = x[:, :-1], x[:, 1:]
    logits = lm.model(input_ids=inp).logits if _hf(lm.model) else lm.model(inp)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1)), logits


def train(lm: LM, root: Path, seed: int) -> Outcome:
    """Train ``lm`` with the public API, logging ``train/loss`` every step."""
    gen = torch.Generator().manual_seed(1000 + seed)
    opt = torch.optim.AdamW(lm.model.parameters(), lr=lm.lr, weight_decay=lm.weight_decay)
    sched = _schedule(opt, lm)
    ids, tokens = text.probe()
    probe: Any = {"input_ids": ids} if _hf(lm.model) else ids
    run = ds.init(name=lm.name, dir=root, config={"lr": lm.lr, "seed": seed, **lm.config})
    run.watch(lm.model, optimizer=opt, every=lm.every, probe=probe, tokens=tokens)
    raw = RawProbe(every=lm.every)
    raw.attach(lm.model)
    try:
        for step in range(lm.steps):
            x = lm.data(gen, lm.batch, lm.length + (0 if lm.masked else 1))
            if lm.corrupt is not None:
                x = lm.corrupt(step, x, gen)
            lm.model.train()
            raw.before_forward(step)
            loss, logits = _forward(lm, x, gen)
            raw.forward_done()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            run.log({"train/loss": loss.item()}, step=step)
            raw.after_step(step, loss.item(), logits)
    finally:
        raw.remove()
    run.finish()
    return Outcome(Path(run.path), raw)
