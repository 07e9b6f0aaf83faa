"""Buggy trainings visible in the loss curves: overfitting, plateau, oscillation."""

from __future__ import annotations

from pathlib import Path

import torch
from sklearn import datasets
from torch import nn

from scenarios.common import (
    Setup,
    _split,
    bce,
    breast_cancer,
    digit_images,
    digit_rows,
    digits,
    mlp,
    train,
    wine,
)
from scenarios.healthy import LSTMClassifier


# -- overfitting --------------------------------------------------------------------------------
def overfit_small_digits(root: Path) -> Path:
    """120 training digits, 20% of their labels wrong, a wide MLP and no regularisation."""
    torch.manual_seed(0)
    d = digits(train=120)
    gen = torch.Generator().manual_seed(0)
    flip = torch.rand(len(d.y), generator=gen) < 0.2
    d.y[flip] = torch.randint(0, 10, (int(flip.sum()),), generator=gen)
    m = mlp([64, 512, 512, 10])
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    return train(Setup("overfit-digits", m, opt, d, steps=400, batch=32, val_every=20), root)


def overfit_noisy_features(root: Path) -> Path:
    """60 samples of 100 mostly useless features with 10% flipped labels, a transformer-free MLP."""
    torch.manual_seed(0)
    x, y = datasets.make_classification(n_samples=600, n_features=100, n_informative=5,
                                        flip_y=0.1, random_state=0)
    d = _split(x, y, scale=True, train=0.1)
    m = mlp([100, 256, 256, 2], nn.GELU)
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    return train(Setup("overfit-noisy", m, opt, d, steps=400, batch=32, val_every=20), root)


# -- loss_plateau -------------------------------------------------------------------------------
def plateau_tiny_lr_sgd(root: Path) -> Path:
    torch.manual_seed(0)
    m = mlp([64, 128, 64, 10])
    opt = torch.optim.SGD(m.parameters(), lr=1e-5)
    return train(Setup("plateau-sgd", m, opt, digits(), steps=250), root)


def plateau_tiny_lr_lstm(root: Path) -> Path:
    torch.manual_seed(0)
    m = LSTMClassifier()
    opt = torch.optim.Adam(m.parameters(), 1e-6)
    return train(Setup("plateau-lstm", m, opt, digit_rows(), steps=200), root)


def plateau_zero_init_tanh(root: Path) -> Path:
    """Every weight initialised to zero: the tanh units stay symmetric at 0 and learn nothing."""
    torch.manual_seed(0)
    m = mlp([64, 128, 64, 10], nn.Tanh)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    return train(Setup("plateau-zero-init", m, opt, digits(), steps=200), root)


# -- loss_oscillation ---------------------------------------------------------------------------
def oscillation_sgd_high_lr(root: Path) -> Path:
    torch.manual_seed(0)
    m = mlp([13, 64, 64, 3])
    opt = torch.optim.SGD(m.parameters(), lr=2.0)
    return train(Setup("oscillate-sgd", m, opt, wine(), steps=250, batch=32), root)


class TanhConv(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.tanh(self.conv(x)).flatten(1))


def oscillation_sgd_tanh_cnn(root: Path) -> Path:
    """Plain SGD at lr 1.0: the loss leaps from 2.3 to hundreds and bounces there."""
    torch.manual_seed(0)
    m = TanhConv()
    opt = torch.optim.SGD(m.parameters(), lr=1.0)
    return train(Setup("oscillate-tanh-cnn", m, opt, digit_images(), steps=250), root)


def oscillation_logistic_regression(root: Path) -> Path:
    """Logistic regression with SGD at lr 30: the loss keeps jumping back up."""
    torch.manual_seed(0)
    m = nn.Linear(30, 1)
    opt = torch.optim.SGD(m.parameters(), lr=30.0)
    return train(Setup("oscillate-logreg", m, opt, breast_cancer(), loss=bce, steps=250), root)
