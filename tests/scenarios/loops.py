"""The training loop and evaluation most scripts are written as, with the probe's call sites.

``fit`` is the loop a user writes by hand: ``zero_grad`` / forward / ``backward`` / ``step``, with
the variations real code has (gradient accumulation, bf16 autocast with a ``GradScaler``,
clipping, a learning-rate scheduler, an evaluation every few steps). Scenarios whose bug lives in
the loop itself write their own loop instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

import deepscope as ds
from scenarios.probe import Probe

#: ``step_loss(model) -> (output, loss)`` computes one minibatch.
StepLoss = Callable[[nn.Module], tuple[Any, torch.Tensor]]


@dataclass
class Outcome:
    """A finished scenario: its deepscope run and what the probe measured without deepscope."""

    path: Path
    probe: Probe


def fit(
    run: ds.Run,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    step_loss: StepLoss,
    probe: Probe,
    *,
    steps: int,
    scheduler: Any = None,
    accumulate: int = 1,
    autocast: bool = False,
    scaler: Any = None,
    clip: float | None = None,
    evaluate: Callable[[int], None] | None = None,
    eval_every: int = 10,
    tag: str = "train/loss",
) -> None:
    """Train ``steps`` optimizer steps, logging the loss under ``tag`` every step."""
    params = [p for g in opt.param_groups for p in g["params"]]
    model.train()
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(accumulate):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                out, loss = step_loss(model)
            probe.forward(model, out)
            probe.backward(model)
            scaled = loss / accumulate
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
            total += loss.item() / accumulate
        if scaler is not None:
            scaler.unscale_(opt)
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        probe.before_step(params)
        if scaler is not None:
            scale = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            skipped = scaler.get_scale() < scale
        else:
            opt.step()
            skipped = False
        if skipped:
            probe.skipped_step()
        else:
            probe.after_step(total)
        if scheduler is not None:
            scheduler.step()
        run.log({tag: total}, step=step)
        if evaluate is not None and (step + 1) % eval_every == 0:
            evaluate(step)


def classifier_eval(
    run: ds.Run,
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    probe: Probe,
    *,
    logits: Callable[[Any], torch.Tensor] = lambda out: out,
    restore_train: bool = True,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> Callable[[int], None]:
    """An ``evaluate(step)`` that logs ``val/loss`` and ``val/acc`` (and calls ``model.train()``
    afterwards unless ``restore_train`` is False: the classic forgotten line).
    """

    def evaluate(step: int) -> None:
        model.eval()
        with torch.no_grad():
            out = logits(model(x))
            vl = loss(out, y).item()
            acc = (out.argmax(-1) == y).float().mean().item()
        run.log({"val/loss": vl, "val/acc": acc}, step=step)
        probe.evaluated(step, vl, acc)
        if restore_train:
            model.train()

    return evaluate


def lm_eval(run: ds.Run, model: nn.Module, x: torch.Tensor, probe: Probe) -> Callable[[int], None]:
    """An ``evaluate(step)`` for a causal LM (transformers model taking ``labels=``)."""

    def evaluate(step: int) -> None:
        model.eval()
        with torch.no_grad():
            vl = model(input_ids=x, labels=x).loss.item()
        run.log({"val/loss": vl}, step=step)
        probe.evaluated(step, vl)
        model.train()

    return evaluate


def indexed(
    x: torch.Tensor, y: torch.Tensor | None, batch: int, seed: int,
    loss: Callable[[Any, torch.Tensor], torch.Tensor],
    call: Callable[[nn.Module, torch.Tensor], Any] = lambda m, xb: m(xb),
) -> StepLoss:
    """``step_loss`` over random minibatches of ``(x, y)`` (``y`` None: the target is ``x``)."""
    gen = torch.Generator().manual_seed(seed)

    def step_loss(model: nn.Module) -> tuple[Any, torch.Tensor]:
        idx = torch.randint(0, len(x), (batch,), generator=gen)
        xb = x[idx]
        out = call(model, xb)
        return out, loss(out, xb if y is None else y[idx])

    return step_loss


def warmup_cosine(opt: torch.optim.Optimizer, warmup: int, total: int) -> Any:
    """Linear warm-up from 0 then cosine decay to 0 (the transformers schedule)."""
    import math

    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)
