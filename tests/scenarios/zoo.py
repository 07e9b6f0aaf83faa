"""Models of the suite: transformers models from small random configs and a few hand-written nets.

Random configs only (never ``from_pretrained``): a forward + backward of each takes ~10 ms on one
CPU thread.
"""

from __future__ import annotations

import torch
from torch import nn

from scenarios.tasks import SEQ, VOCAB

_TINY = {"hidden": 32, "layers": 2, "heads": 2, "ffn": 64}


def gpt2(**overrides: object) -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(**{"n_embd": _TINY["hidden"], "n_layer": _TINY["layers"],
                        "n_head": _TINY["heads"], "n_inner": _TINY["ffn"], "vocab_size": VOCAB,
                        "n_positions": SEQ, "bos_token_id": 0, "eos_token_id": 0, **overrides})
    return GPT2LMHeadModel(cfg)


def bert(num_labels: int = 2, **overrides: object) -> nn.Module:
    from transformers import BertConfig, BertForSequenceClassification

    cfg = BertConfig(**{"hidden_size": _TINY["hidden"], "num_hidden_layers": _TINY["layers"],
                        "num_attention_heads": _TINY["heads"], "intermediate_size": _TINY["ffn"],
                        "vocab_size": VOCAB, "max_position_embeddings": SEQ,
                        "num_labels": num_labels, **overrides})
    return BertForSequenceClassification(cfg)


def llama(**overrides: object) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(**{"hidden_size": _TINY["hidden"], "intermediate_size": _TINY["ffn"],
                         "num_hidden_layers": _TINY["layers"],
                         "num_attention_heads": _TINY["heads"],
                         "num_key_value_heads": 1, "vocab_size": VOCAB,
                         "max_position_embeddings": SEQ, "bos_token_id": 0, "eos_token_id": 0,
                         "pad_token_id": 0, **overrides})
    return LlamaForCausalLM(cfg)


def quiet_transformers() -> None:
    """transformers logs config warnings on every model built; the suite builds many."""
    from transformers.utils import logging

    logging.set_verbosity_error()


class Generator(nn.Module):
    def __init__(self, z: int = 8, hidden: int = 64, out: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, out))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, d_in: int = 2, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                 nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AutoEncoder(nn.Module):
    """64 -> 8 -> 64 with a sigmoid reconstruction of pixels in [0, 1]."""

    def __init__(self, d: int = 64, code: int = 8) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, code))
        self.decoder = nn.Sequential(nn.Linear(code, 32), nn.ReLU(), nn.Linear(32, d),
                                     nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class DropoutCNN(nn.Module):
    """Conv + BatchNorm + Dropout classifier of 8x8 digits."""

    def __init__(self, softmax: bool = False) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.dropout = nn.Dropout(0.3)
        self.fc = nn.Linear(16 * 16, 10)
        self.softmax = softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.fc(self.dropout(self.features(x).flatten(1)))
        return torch.softmax(logits, dim=-1) if self.softmax else logits


class TokenClassifier(nn.Module):
    """Embedding + TransformerEncoder + mean pooling; ``head`` decides what comes out."""

    def __init__(self, head: nn.Module | None = None, d: int = 32, classes: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d)
        self.pos = nn.Parameter(torch.zeros(1, SEQ, d))
        layer = nn.TransformerEncoderLayer(d, 2, 64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.classifier = nn.Linear(d, classes)
        self.head = head or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(x) + self.pos)
        return self.head(self.classifier(h.mean(1)))


class _BNBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.b2(self.c2(torch.relu(self.b1(self.c1(x))))))


class ResNetBN(nn.Module):
    """A residual CNN with BatchNorm (two blocks, 16 channels) for 8x8 digits."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(_BNBlock(16), _BNBlock(16))
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))
