"""Healthy, well-configured trainings: diagnosis must find no warning or error in them."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import deepscope as ds
from scenarios.common import (
    Setup,
    bce,
    breast_cancer,
    diabetes,
    digit_images,
    digit_rows,
    digits,
    mlp,
    moons,
    mse,
    train,
    wine,
)


def mlp_digits_adam(root: Path) -> Path:
    torch.manual_seed(0)
    m = mlp([64, 128, 64, 10])
    return train(Setup("mlp-digits-adam", m, torch.optim.Adam(m.parameters(), 1e-3), digits()),
                 root)


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


def cnn_digits_sgd(root: Path) -> Path:
    torch.manual_seed(0)
    m = ConvNet()
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    return train(Setup("cnn-digits-sgd", m, opt, digit_images()), root)


class LSTMClassifier(nn.Module):
    def __init__(self, d_in: int = 8, hidden: int = 64, n_out: int = 10) -> None:
        super().__init__()
        self.lstm = nn.LSTM(d_in, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def lstm_digit_rows(root: Path) -> Path:
    torch.manual_seed(0)
    m = LSTMClassifier()
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    return train(Setup("lstm-digit-rows", m, opt, digit_rows()), root)


class TinyTransformer(nn.Module):
    def __init__(self, d_in: int = 8, d: int = 32, n_out: int = 10, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Linear(d_in, d)
        self.pos = nn.Parameter(torch.zeros(1, 8, d))
        layer = nn.TransformerEncoderLayer(d, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.embed(x) + self.pos)
        return self.head(self.norm(h.mean(1)))


def transformer_digit_rows(root: Path) -> Path:
    torch.manual_seed(0)
    m = TinyTransformer()
    opt = torch.optim.AdamW(m.parameters(), 2e-3, weight_decay=0.01)
    s = Setup("transformer-digit-rows", m, opt, digit_rows(), steps=150, batch=32)
    return train(s, root)


def tanh_mlp_breast_cancer_sgd(root: Path) -> Path:
    torch.manual_seed(0)
    m = mlp([30, 32, 32, 1], nn.Tanh)
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    return train(Setup("tanh-mlp-cancer-sgd", m, opt, breast_cancer(), loss=bce), root)


def sigmoid_output_cancer(root: Path) -> Path:
    """A confident sigmoid output layer saturates by design: not a hidden-layer problem."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Linear(32, 1), nn.Sigmoid())

    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.binary_cross_entropy(out.squeeze(-1), y.float())

    opt = torch.optim.Adam(m.parameters(), 3e-3)
    return train(Setup("sigmoid-output-cancer", m, opt, breast_cancer(), loss=loss), root)


def batchnorm_mlp_wine_no_optimizer(root: Path) -> Path:
    """Watched without the optimizer: weights are compared between sampled steps."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(13, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 3))
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    s = Setup("bn-mlp-wine", m, opt, wine(), batch=32, steps=200, val_every=20,
              watch_optimizer=False)
    return train(s, root)


def gelu_regression_diabetes(root: Path) -> Path:
    torch.manual_seed(0)
    m = mlp([10, 64, 64, 1], nn.GELU)
    opt = torch.optim.Adam(m.parameters(), 1e-3, weight_decay=1e-4)
    return train(Setup("gelu-diabetes", m, opt, diabetes(), loss=mse, batch=32), root)


def raw_target_regression(root: Path) -> Path:
    """Regression on the raw diabetes target (mean ~150): gradients 300x the weights from the
    start because the residuals are large, yet the fit converges (MSE 32,500 -> 6,100, val
    28,000 -> 4,900). Big loss, big gradients: scale, not explosion.
    """
    from sklearn import datasets

    from scenarios.common import _split

    torch.manual_seed(0)
    raw = datasets.load_diabetes()
    d = _split(raw.data, raw.target, scale=True, y_float=True)
    m = mlp([10, 64, 64, 1])
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    return train(Setup("raw-target-regression", m, opt, d, loss=mse, steps=200, batch=32), root)


def leaky_deep_moons(root: Path) -> Path:
    torch.manual_seed(0)
    m = mlp([2, 32, 32, 32, 32, 2], nn.LeakyReLU)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    return train(Setup("leaky-deep-moons", m, opt, moons()), root)


def resnet_digits_batchnorm(root: Path) -> Path:
    from models import ResNetTiny

    torch.manual_seed(0)
    m = ResNetTiny(channels=8)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    return train(Setup("resnet-digits", m, opt, digit_images(), steps=150, batch=32), root)


def gru_digit_rows(root: Path) -> Path:
    from models import GRUClassifier

    torch.manual_seed(0)
    m = GRUClassifier(hidden=32)
    opt = torch.optim.Adam(m.parameters(), 3e-3)
    return train(Setup("gru-digit-rows", m, opt, digit_rows()), root)


class TokenTransformer(nn.Module):
    """Digits pooled to 4x4, each cell's intensity (0..16) a token: 16 tokens per image."""

    def __init__(self, d: int = 32) -> None:
        super().__init__()
        self.tok = nn.Embedding(17, d)
        self.pos = nn.Embedding(16, d)
        layer = nn.TransformerEncoderLayer(d, 4, 64, dropout=0.1, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(d, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cells = nn.functional.avg_pool2d(x.reshape(len(x), 1, 8, 8), 2).reshape(len(x), -1)
        tokens = (cells * 16).round().long()
        h = self.tok(tokens) + self.pos.weight
        return self.head(self.encoder(h).mean(1))


def token_transformer_digits(root: Path) -> Path:
    torch.manual_seed(0)
    m = TokenTransformer()
    opt = torch.optim.AdamW(m.parameters(), 2e-3)
    return train(Setup("token-transformer", m, opt, digit_rows(), steps=200, batch=32), root)


def epochs_without_steps(root: Path) -> Path:
    """Per-epoch averages logged without step numbers, watched without an optimizer."""
    torch.manual_seed(0)
    d = breast_cancer()
    m = mlp([30, 64, 64, 1])
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    run = ds.init(name="epochs", dir=root)
    run.watch(m, every=5)
    for _epoch in range(20):
        perm, total = torch.randperm(len(d.x)), 0.0
        for i in range(0, len(d.x), 32):
            idx = perm[i: i + 32]
            loss = bce(m(d.x[idx]), d.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        with torch.no_grad():
            val = bce(m(d.xv), d.yv).item()
        run.log({"train_loss": total / len(d.x), "val_loss": val})
    run.finish()
    return Path(run.path)


def small_batch_relu_wine(root: Path) -> Path:
    """Batches of 8: dead-unit shares are noisier but stay low."""
    torch.manual_seed(0)
    m = mlp([13, 64, 64, 3])
    opt = torch.optim.SGD(m.parameters(), lr=0.05)
    return train(Setup("relu-batch8-wine", m, opt, wine(), batch=8, steps=300), root)


def deep_tanh_digits(root: Path) -> Path:
    """Six tanh layers with the default init: gradients shrink a little, never vanish."""
    torch.manual_seed(0)
    m = mlp([64, 32, 32, 32, 32, 32, 10], nn.Tanh)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    return train(Setup("deep-tanh-digits", m, opt, digits()), root)


HEALTHY = [
    mlp_digits_adam,
    cnn_digits_sgd,
    lstm_digit_rows,
    transformer_digit_rows,
    tanh_mlp_breast_cancer_sgd,
    sigmoid_output_cancer,
    batchnorm_mlp_wine_no_optimizer,
    gelu_regression_diabetes,
    raw_target_regression,
    leaky_deep_moons,
    resnet_digits_batchnorm,
    gru_digit_rows,
    token_transformer_digits,
    epochs_without_steps,
    small_batch_relu_wine,
    deep_tanh_digits,
]
