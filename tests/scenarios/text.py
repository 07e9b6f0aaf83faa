"""A character-level text corpus from the standard library's own source (nothing downloaded).

Tokens are characters (id 0 is reserved for a beginning-of-sequence token); batches are random
windows of the text, drawn from a seeded generator so every run sees the same batches.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from functools import lru_cache

import torch

_MODULES = ("textwrap", "argparse", "json.decoder", "string", "difflib", "pprint")
#: The probe sequence whose attention patterns the views show.
PROBE_TEXT = "def wrap(text, width=70):\n    return text.split()"


@lru_cache(maxsize=1)
def corpus() -> tuple[torch.Tensor, tuple[str, ...]]:
    """``(token ids of the whole text, vocabulary)``; vocabulary[0] is the BOS token."""
    text = "".join(inspect.getsource(importlib.import_module(m)) for m in _MODULES)
    vocab = ("<bos>", *sorted(set(text + PROBE_TEXT)))
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text]), vocab


def vocab_size() -> int:
    return len(corpus()[1])


def batch(gen: torch.Generator, size: int, length: int) -> torch.Tensor:
    """``size`` random windows of ``length`` tokens."""
    ids, _ = corpus()
    start = torch.randint(0, len(ids) - length - 1, (size,), generator=gen)
    return torch.stack([ids[s : s + length] for s in start.tolist()])


def probe() -> tuple[torch.Tensor, list[str]]:
    """``(ids of shape (1, T), the T token strings)`` of :data:`PROBE_TEXT`."""
    _, vocab = corpus()
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([[index[c] for c in PROBE_TEXT]]), list(PROBE_TEXT)


def memorise(seed: int, windows: int = 16) -> Callable[[torch.Generator, int, int], torch.Tensor]:
    """Batches drawn from the same ``windows`` windows of the text, epoch after epoch."""
    fixed: dict[int, torch.Tensor] = {}

    def draw(gen: torch.Generator, size: int, length: int) -> torch.Tensor:
        if length not in fixed:
            fixed[length] = batch(torch.Generator().manual_seed(seed), windows, length)
        return fixed[length][torch.randint(0, windows, (size,), generator=gen)]

    return draw


def key_value_pairs(seed: int) -> Callable[[torch.Generator, int, int], torch.Tensor]:
    """Records of (key, value) character pairs: after a beginning-of-sequence token, random keys
    alternate with values that are a fixed function of their key (a lookup table)."""
    size = vocab_size()
    table = torch.randint(1, size, (size,), generator=torch.Generator().manual_seed(seed))

    def draw(gen: torch.Generator, n: int, length: int) -> torch.Tensor:
        x = torch.randint(1, size, (n, length), generator=gen)
        x[:, 1::2] = table[x[:, 0::2]][:, : x[:, 1::2].shape[1]]
        x[:, 0] = 0
        return x

    return draw
