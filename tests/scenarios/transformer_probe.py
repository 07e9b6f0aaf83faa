"""Raw measurements of a transformer training, taken with plain torch hooks, never deepscope.

The attention statistics are computed here from the q and k *projections* (hooks on the Linear
layers that make them), independently of the capture, which reads the attention calls; block
outputs and logits come from forward hooks and the training loop. What a :class:`RawProbe` saw
validates each scenario's label before diagnosis is asked (``transformer_suite.label_problems``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

#: Sequences of a batch the probe looks at.
SEQUENCES = 4

QK = Callable[[], tuple[torch.Tensor, torch.Tensor]]


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, t, d = x.shape
    return x.view(b, t, heads, d // heads).transpose(1, 2)


def _sources(model: nn.Module) -> tuple[list[tuple[nn.Module, str, int]], list[nn.Module], bool]:
    """``([(module, what, heads)], blocks, causal)``: where q and k are made, the blocks."""
    from models import QKNormGPT

    if isinstance(model, QKNormGPT):
        out = []
        for b in model.blocks:
            out += [(b.attn.q_norm, "q", b.attn.heads), (b.attn.k_norm, "k", b.attn.heads)]
        return out, list(model.blocks), True
    if hasattr(model, "transformer"):  # GPT-2
        h = model.config.n_head
        return [(blk.attn.c_attn, "qk", h) for blk in model.transformer.h], \
            list(model.transformer.h), True
    layers = model.bert.encoder.layer  # BERT
    h = model.config.num_attention_heads
    out = []
    for lay in layers:
        out += [(lay.attention.self.query, "q", -h), (lay.attention.self.key, "k", -h)]
    return out, list(layers), False


@dataclass
class RawProbe:
    """Per sampled step: max |q.k|/sqrt(d) and normalised entropy of every head, the outlier
    ratio of every block, the mean log-partition; and the loss of every step.
    """

    every: int = 10
    layers: int = 0
    losses: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    max_logit: list[np.ndarray] = field(default_factory=list)
    entropy: list[np.ndarray] = field(default_factory=list)
    outlier: list[np.ndarray] = field(default_factory=list)
    lse: list[float] = field(default_factory=list)
    _q: list[torch.Tensor] = field(default_factory=list)
    _k: list[torch.Tensor] = field(default_factory=list)
    _blocks: list[float] = field(default_factory=list)
    _handles: list[Any] = field(default_factory=list)
    _on: bool = False
    _measured: bool = False
    _causal: bool = True

    def attach(self, model: nn.Module) -> None:
        sources, blocks, self._causal = _sources(model)
        self.layers = len(blocks)
        for mod, what, heads in sources:
            self._handles.append(mod.register_forward_hook(self._qk_hook(what, heads)))
        for blk in blocks:
            self._handles.append(blk.register_forward_hook(self._block_hook))

    def _qk_hook(self, what: str, heads: int) -> Callable[..., None]:
        def hook(_m: nn.Module, _i: Any, out: torch.Tensor) -> None:
            if not self._on:
                return
            y = out.detach()[:SEQUENCES].float()
            if what == "qk":  # GPT-2's c_attn: [q | k | v] along the last axis
                d = y.shape[-1] // 3
                self._q.append(_heads(y[..., :d], heads))
                self._k.append(_heads(y[..., d : 2 * d], heads))
            elif heads < 0:  # (B, T, D) projections
                (self._q if what == "q" else self._k).append(_heads(y, -heads))
            else:  # already (B, H, T, hd)
                (self._q if what == "q" else self._k).append(y)

        return hook

    def _block_hook(self, _m: nn.Module, _i: Any, out: Any) -> None:
        if not self._on:
            return
        x = (out[0] if isinstance(out, tuple) else out).detach().float()
        a = x.reshape(-1, x.shape[-1])[:1024].abs()
        self._blocks.append(float(a.max() / a.median()))

    def before_forward(self, step: int) -> None:
        """Measure the training forward that starts now (every ``every`` steps)."""
        self._on = step % self.every == 0
        self._measured = self._on
        self._q, self._k, self._blocks = [], [], []

    def forward_done(self) -> None:
        """Stop listening: other forwards of the step (deepscope's probe) are not training."""
        self._on = False

    def after_step(self, step: int, loss: float, logits: torch.Tensor) -> None:
        self.losses.append(loss)
        if not self._measured:
            return
        self._measured = False
        logit_rows, entropies = [], []
        for q, k in zip(self._q, self._k, strict=True):
            s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            t = s.shape[-1]
            keep = torch.ones(t, t, dtype=torch.bool).tril() if self._causal \
                else torch.ones(t, t, dtype=torch.bool)
            logit_rows.append(s.masked_fill(~keep, 0.0).abs().amax((0, 2, 3)))
            p = s.masked_fill(~keep, float("-inf")).softmax(-1)
            ent = -(torch.special.xlogy(p, p)).sum(-1)
            n = keep.sum(-1).float()
            use = n >= 2
            entropies.append((ent[..., use] / n[use].log()).mean((0, 2)))
        self.steps.append(step)
        self.max_logit.append(torch.cat(logit_rows).numpy())
        self.entropy.append(torch.cat(entropies).numpy())
        self.outlier.append(np.array(self._blocks))
        z = logits.detach().float().reshape(-1, logits.shape[-1])[:128].logsumexp(-1)
        self.lse.append(float(z.mean()))

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    # -- summaries ---------------------------------------------------------------------------
    def final(self, series: list[np.ndarray]) -> np.ndarray:
        """Per head (or block): the median of the last quarter of the sampled steps."""
        a = np.stack(series)
        return np.median(a[-max(2, len(a) // 4):], axis=0)

    def summary(self) -> dict[str, float]:
        losses = np.array(self.losses)
        k = max(1, len(losses) // 10)
        return {
            "finite": bool(np.isfinite(losses).all()),
            "first_loss": float(losses[:k].mean()),
            "last_loss": float(losses[-k:].mean()),
            "max_logit": float(self.final(self.max_logit).max()),
            "collapsed_share": float((self.final(self.entropy) <= 0.2).mean()),
            "min_entropy": float(self.final(self.entropy).min()),
            "outlier": float(self.final(self.outlier).max()),
            "outlier_growth": float(self.final(self.outlier).max()
                                    / np.stack(self.outlier)[: max(2, len(self.outlier) // 4)]
                                    .mean(0)[self.final(self.outlier).argmax()]),
            "lse_drift": float(abs(np.median(self.lse[-3:]) - np.median(self.lse[:2]))),
            "max_spike_z": float(max_robust_z(losses)),
        }


def max_robust_z(losses: np.ndarray, window: int = 50, history: int = 20, rise: float = 0.3,
                 jump: float = 0.05) -> float:
    """The largest robust z-score (1.4826 x MAD of the trailing window) of a loss point that
    lies ``rise`` above the trailing median and ``jump`` x the initial loss above it in absolute
    terms (what anyone would call a spike); 0 when there is none."""
    best = 0.0
    initial = float(np.median(losses[: max(1, len(losses) // 10)]))
    for t in range(history, len(losses)):
        w = losses[max(0, t - window) : t]
        med = float(np.median(w))
        if losses[t] < med * (1 + rise) or losses[t] - med < jump * initial:
            continue
        mad = float(np.median(np.abs(w - med))) * 1.4826
        best = max(best, (losses[t] - med) / max(mad, 1e-3 * abs(med) + 1e-12))
    return best
