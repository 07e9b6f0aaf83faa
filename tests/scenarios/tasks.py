"""Small learnable tasks for the suite: synthetic token sequences and bundled scikit-learn data.

Nothing is downloaded: token tasks are generated from a seed, tabular and image data come from
scikit-learn's bundled datasets (``tests/scenarios/common.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from sklearn import datasets

from scenarios.common import Data, _split, digits

VOCAB = 64
SEQ = 16
#: Token ids below this are "low"; the classification label is "most tokens are low".
_LOW = 34


@dataclass
class Tokens:
    """Token sequences (``x``: (N, SEQ) int64) with labels (classification) or none (LM)."""

    x: torch.Tensor
    y: torch.Tensor | None
    xv: torch.Tensor
    yv: torch.Tensor | None


def _cls_batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randint(4, VOCAB, (n, SEQ), generator=gen)
    x[:, 0] = 1  # [CLS]
    y = ((x[:, 1:] < _LOW).sum(1) > (SEQ - 1) / 2).long()
    return x, y


def token_classes(seed: int, n: int = 2048) -> Tokens:
    """Binary classification: are most tokens of the sequence "low"? (needs attention to pool)."""
    x, y = _cls_batch(n, torch.Generator().manual_seed(seed))
    xv, yv = _cls_batch(256, torch.Generator().manual_seed(10_000 + seed))
    return Tokens(x, y, xv, yv)


def _lm_batch(n: int, gen: torch.Generator) -> torch.Tensor:
    start = torch.randint(0, VOCAB, (n, 1), generator=gen)
    stride = torch.randint(1, 4, (n, 1), generator=gen)
    return (start + stride * torch.arange(SEQ)) % VOCAB


def token_sequences(seed: int, n: int = 2048) -> Tokens:
    """Language modelling: arithmetic progressions mod VOCAB (the stride is read from context)."""
    x = _lm_batch(n, torch.Generator().manual_seed(seed))
    xv = _lm_batch(256, torch.Generator().manual_seed(10_000 + seed))
    return Tokens(x, None, xv, None)


def batches(n: int, batch: int, seed: int) -> Iterator[torch.Tensor]:
    """Endless random minibatch indices into ``n`` examples."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        yield torch.randint(0, n, (batch,), generator=gen)


def large_targets(seed: int) -> Data:
    """Diabetes regression with its target in raw units x 30 (mean ~4,600, std ~2,300)."""
    d = datasets.load_diabetes()
    return _split(d.data, d.target * 30.0, scale=True, seed=seed, y_float=True)


def digit_images(seed: int) -> Data:
    """Standardised 8x8 digits as (N, 1, 8, 8) images."""
    d = digits(seed=seed)
    return Data(d.x.reshape(-1, 1, 8, 8), d.y, d.xv.reshape(-1, 1, 8, 8), d.yv)
