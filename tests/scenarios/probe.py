"""Raw measurements of a training taken with plain torch, never through deepscope.

Every scenario of the suite calls a :class:`Probe` at four points of its loop (the first training
forward of a step, the first backward of a step, just before and just after ``optimizer.step``).
What the probe saw is the ground truth that validates the scenario's label: a scenario labelled
``gradients_not_zeroed`` must really carry gradients into its steps, a healthy one must really
learn, and so on (see ``validate_label`` in ``test_suite.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

#: Modules whose behaviour differs between train and eval mode.
_MODE_TYPES = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm,
               nn.modules.instancenorm._InstanceNorm)


def _mode_sensitive(model: nn.Module) -> list[nn.Module]:
    out = []
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0:
            out.append(m)
        elif isinstance(m, _MODE_TYPES[1:]) and getattr(m, "track_running_stats", False):
            out.append(m)
    return out


def _logits(out: object) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return out
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    raise TypeError(f"no logits in {type(out).__name__}")


@dataclass
class Probe:
    """What happened in one training, step by step.

    Attributes:
        losses: the training loss of every optimizer step.
        quality: ``(step, value)`` of a scenario-defined quality measure, lower is better
            (validation loss for most, a sample distance for the GAN).
        val_acc: ``(step, accuracy)`` on the validation set where there is one.
        chance: the accuracy of guessing (1 / classes) for classification scenarios.
        carried: per optimizer step after the first: some trainable ``.grad`` was already
            non-zero before the step's first backward.
        root_eval: per step: the model was in eval mode at the step's first training forward.
        sensitive_eval: per step: share of Dropout / running-statistics norm modules in eval.
        prob_rows: per step: the output rows were probability distributions.
        unchanged: per measured step: share of parameter elements with a non-zero gradient
            that the optimizer step left bitwise unchanged.

    """

    every: int = 3
    losses: list[float] = field(default_factory=list)
    quality: list[tuple[int, float]] = field(default_factory=list)
    val_acc: list[tuple[int, float]] = field(default_factory=list)
    chance: float | None = None
    carried: list[bool] = field(default_factory=list)
    root_eval: list[bool] = field(default_factory=list)
    sensitive_eval: list[float] = field(default_factory=list)
    prob_rows: list[bool] = field(default_factory=list)
    unchanged: list[float] = field(default_factory=list)
    steps: int = 0
    _snapshot: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)
    _forward_seen: bool = False
    _backward_seen: bool = False

    # -- the four call sites -----------------------------------------------------------------
    def forward(self, model: nn.Module, output: object) -> None:
        """Call after the training forward (only the first of a step counts)."""
        if self._forward_seen:
            return
        self._forward_seen = True
        self.root_eval.append(not model.training)
        mods = _mode_sensitive(model)
        self.sensitive_eval.append(
            sum(not m.training for m in mods) / len(mods) if mods else 0.0
        )
        y = _logits(output).detach().float()
        rows = y.reshape(-1, y.shape[-1]) if y.dim() >= 2 else None
        is_prob = bool(rows is not None and rows.shape[-1] >= 2 and (rows >= 0).all()
                       and ((rows.sum(-1) - 1).abs() <= 1e-3).all())
        self.prob_rows.append(is_prob)

    def backward(self, model: nn.Module) -> None:
        """Call right before ``loss.backward()`` (only the first of a step counts)."""
        if self._backward_seen:
            return
        self._backward_seen = True
        if self.steps == 0:
            return
        self.carried.append(any(
            p.grad is not None and bool(p.grad.detach().abs().sum() > 0)
            for p in model.parameters() if p.requires_grad
        ))

    def before_step(self, params: list[nn.Parameter]) -> None:
        """Call right before ``optimizer.step()``: snapshot on measured steps."""
        if self.steps % self.every:
            return
        self._snapshot = [(p, p.detach().clone()) for p in params
                          if p.requires_grad and p.grad is not None]

    def after_step(self, loss: float) -> None:
        """Call right after ``optimizer.step()`` with the step's training loss."""
        if self._snapshot:
            moved = unchanged = 0
            for p, before in self._snapshot:
                has_grad = p.grad.detach() != 0
                same = (p.detach() == before) & has_grad
                moved += int(has_grad.sum())
                unchanged += int(same.sum())
            self.unchanged.append(unchanged / max(moved, 1))
            self._snapshot = []
        self.losses.append(float(loss))
        self.steps += 1
        self._forward_seen = self._backward_seen = False

    def skipped_step(self) -> None:
        """Call when a GradScaler skipped ``optimizer.step()`` (the step still counts)."""
        self._snapshot = []
        self._forward_seen = self._backward_seen = False

    def evaluated(self, step: int, quality: float, acc: float | None = None) -> None:
        """Record the quality measure (and accuracy) at ``step``."""
        self.quality.append((step, float(quality)))
        if acc is not None:
            self.val_acc.append((step, float(acc)))

    # -- summaries ---------------------------------------------------------------------------
    def share(self, name: str) -> float:
        """Share of steps on which the boolean measurement ``name`` held."""
        values = getattr(self, name)
        return float(np.mean(values)) if values else 0.0

    def unchanged_share(self) -> float:
        """Median share of elements left unchanged although they had a gradient."""
        return float(np.median(self.unchanged)) if self.unchanged else 0.0

    def train_drop(self) -> float:
        """Relative fall of the training loss: 1 - median(last 20%) / median(first 10%)."""
        v = np.asarray(self.losses)
        k = max(1, len(v) // 10)
        start, end = np.median(v[:k]), np.median(v[-max(2, len(v) // 5):])
        return float(1 - end / start) if start > 0 else 0.0

    def quality_gain(self) -> float:
        """Relative improvement of the quality measure from its first to its best value."""
        q = np.asarray([v for _, v in self.quality])
        if len(q) < 2 or q[0] <= 0:
            return 0.0
        return float(1 - q[1:].min() / q[0])

    def summary(self) -> dict[str, float]:
        """Every measurement, condensed (printed when a label does not validate)."""
        accs = [a for _, a in self.val_acc]
        return {
            "steps": self.steps,
            "train_drop": self.train_drop(),
            "quality_first": self.quality[0][1] if self.quality else float("nan"),
            "quality_gain": self.quality_gain(),
            "best_val_acc": max(accs) if accs else float("nan"),
            "chance": self.chance if self.chance is not None else float("nan"),
            "carried": self.share("carried"),
            "root_eval": self.share("root_eval"),
            "sensitive_eval": float(np.mean(self.sensitive_eval)) if self.sensitive_eval else 0,
            "prob_rows": self.share("prob_rows"),
            "unchanged": self.unchanged_share(),
            "finite": float(np.isfinite(self.losses).all()),
        }
