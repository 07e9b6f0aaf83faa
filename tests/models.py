"""The shared model zoo: small real architectures every test suite draws from.

Each entry builds ``(model, example_input_batch)`` quickly on CPU. Keep them small (a forward in
milliseconds) and deterministic given ``torch.manual_seed``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812


class MLP(nn.Module):
    def __init__(self, d_in: int = 64, hidden: int = 32, d_out: int = 10, depth: int = 2):
        super().__init__()
        layers: list[nn.Module] = []
        d = d_in
        for _ in range(depth):
            layers += [nn.Linear(d, hidden), nn.ReLU()]
            d = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class SmallCNN(nn.Module):
    def __init__(self, channels: int = 8, n_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(channels * 4, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.conv2(x))
        return self.fc(self.pool(x).flatten(1))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))


class ResNetTiny(nn.Module):
    def __init__(self, channels: int = 8, n_classes: int = 10):
        super().__init__()
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.blocks = nn.Sequential(ResidualBlock(channels), ResidualBlock(channels))
        self.head = nn.Linear(channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.head(x.mean(dim=(2, 3)))


class LSTMClassifier(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 16, n_classes: int = 10):
        super().__init__()
        self.lstm = nn.LSTM(d_in, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


class GRUClassifier(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 16, n_classes: int = 10):
        super().__init__()
        self.gru = nn.GRU(d_in, hidden, batch_first=True, num_layers=2)
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.head(out[:, -1])


class TinyTransformer(nn.Module):
    def __init__(self, d_in: int = 8, d_model: int = 16, n_classes: int = 10, layers: int = 2):
        super().__init__()
        self.proj = nn.Linear(d_in, d_model)
        enc = nn.TransformerEncoderLayer(
            d_model, nhead=2, dim_feedforward=32, batch_first=True, dropout=0.0
        )
        self.encoder = nn.TransformerEncoder(enc, num_layers=layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.proj(x)).mean(dim=1))


class SharedWeights(nn.Module):
    """The same Linear applied twice per forward (weight tying)."""

    def __init__(self, d: int = 16):
        super().__init__()
        self.inp = nn.Linear(64, d)
        self.shared = nn.Linear(d, d)
        self.act = nn.Tanh()
        self.out = nn.Linear(d, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.shared(self.inp(x)))
        return self.out(self.act(self.shared(h)))


class DictInOut(nn.Module):
    """Takes and returns dicts, with a tuple-returning submodule inside."""

    def __init__(self):
        super().__init__()
        self.enc = nn.GRU(8, 12, batch_first=True)
        self.cls = nn.Linear(12, 10)
        self.aux = nn.Linear(12, 1)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out, _ = self.enc(batch["x"])
        last = out[:, -1]
        return {"logits": self.cls(last), "score": self.aux(last).squeeze(-1)}


class Dropouty(nn.Module):
    """Dropout and BatchNorm: RNG and buffers must be untouched by instrumentation."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.bn = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.drop(F.gelu(self.bn(self.fc1(x)))))


def _img(n: int = 16) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8)


def _seq(n: int = 16) -> torch.Tensor:
    return torch.randn(n, 6, 8)


#: name -> factory returning (model, example batch). Batches are what ``model(batch)`` takes
#: (a dict is passed as one positional argument).
ZOO: dict[str, Callable[[], tuple[nn.Module, object]]] = {
    "mlp": lambda: (MLP(), torch.randn(16, 64)),
    "cnn": lambda: (SmallCNN(), _img()),
    "resnet": lambda: (ResNetTiny(), _img()),
    "lstm": lambda: (LSTMClassifier(), _seq()),
    "gru": lambda: (GRUClassifier(), _seq()),
    "transformer": lambda: (TinyTransformer(), _seq()),
    "shared": lambda: (SharedWeights(), torch.randn(16, 64)),
    "dict": lambda: (DictInOut(), {"x": _seq()}),
    "dropout": lambda: (Dropouty(), torch.randn(16, 64)),
}


def logits_of(out: object) -> torch.Tensor:
    """The classification output of any zoo model."""
    return out["logits"] if isinstance(out, dict) else out  # type: ignore[index,return-value]


class QKNormAttention(nn.Module):
    """Causal self-attention through ``scaled_dot_product_attention``, optionally with
    qk-layernorm (LayerNorm of q and k per head, Wortsman et al. 2023)."""

    def __init__(self, d: int, heads: int, qk_norm: bool):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.q_norm = nn.LayerNorm(d // heads) if qk_norm else nn.Identity()
        self.k_norm = nn.LayerNorm(d // heads) if qk_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2)
                   for z in self.qkv(x).split(d, dim=-1))
        y = F.scaled_dot_product_attention(self.q_norm(q), self.k_norm(k), v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(b, t, d))


class QKNormBlock(nn.Module):
    def __init__(self, d: int, heads: int, qk_norm: bool):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = QKNormAttention(d, heads, qk_norm)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class QKNormGPT(nn.Module):
    """A small GPT written by hand (pre-LN blocks, learned positions, untied head): a custom
    attention module the capture must recognise from its ``scaled_dot_product_attention`` call.
    """

    def __init__(self, vocab: int, d: int = 64, heads: int = 4, layers: int = 4,
                 context: int = 64, qk_norm: bool = True):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList([QKNormBlock(d, heads, qk_norm) for _ in range(layers)])
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x))


def tiny_gpt2(vocab: int, layers: int = 4, d: int = 64, heads: int = 4, context: int = 64,
              attn: str = "sdpa", **config: object) -> nn.Module:
    """A GPT-2 of the ``transformers`` library from a small random config (no dropout unless
    ``config`` sets it)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    settings = {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, **config}
    cfg = GPT2Config(n_layer=layers, n_embd=d, n_head=heads, n_positions=context,
                     vocab_size=vocab, bos_token_id=0, eos_token_id=0,
                     attn_implementation=attn, **settings)
    return GPT2LMHeadModel(cfg)


def tiny_bert(vocab: int, layers: int = 2, d: int = 64, heads: int = 4, context: int = 64,
              attn: str = "sdpa") -> nn.Module:
    """A masked-language BERT of the ``transformers`` library from a small random config."""
    from transformers import BertConfig, BertForMaskedLM

    cfg = BertConfig(num_hidden_layers=layers, hidden_size=d, num_attention_heads=heads,
                     intermediate_size=4 * d, vocab_size=vocab, max_position_embeddings=context,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     pad_token_id=0, attn_implementation=attn)
    return BertForMaskedLM(cfg)
