"""Buggy trainings whose problem sits in one layer: activations, gradients, parameters, inputs."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from scenarios.common import (
    Setup,
    bce,
    breast_cancer,
    digit_images,
    digits,
    mlp,
    train,
    wine,
)
from scenarios.healthy import ConvNet


# -- nonfinite ----------------------------------------------------------------------------------
class LogFeatures(nn.Module):
    """log() of ReLU outputs: log(0) = -inf as soon as one unit is inactive."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


def nonfinite_log_of_relu(root: Path) -> Path:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(13, 32), nn.ReLU(), LogFeatures(), nn.Linear(32, 3))
    return train(Setup("nan-log-relu", m, torch.optim.Adam(m.parameters(), 1e-3), wine(),
                       steps=60, batch=32), root)


def nonfinite_corrupt_batch(root: Path) -> Path:
    """A CNN whose data loader yields a NaN pixel at step 45."""
    torch.manual_seed(0)
    m = ConvNet()

    def corrupt(step: int, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if step == 45:
            x = x.clone()
            x[3, 0, 2, 2] = float("nan")
        return x, y

    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    return train(Setup("nan-corrupt-batch", m, opt, digit_images(), steps=80, corrupt=corrupt),
                 root)


# -- exploding_gradients ------------------------------------------------------------------------
def exploding_large_init_deep_mlp(root: Path) -> Path:
    """Eight ReLU layers initialised with N(0, 1): activations and gradients blow up."""
    torch.manual_seed(0)
    m = mlp([64] + [64] * 7 + [10])
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 1.0)
    opt = torch.optim.Adam(m.parameters(), 1e-4)
    return train(Setup("explode-large-init", m, opt, digits(), steps=150), root)


class DeepConv(nn.Module):
    """Six ReLU convolutions initialised with N(0, 0.5) (kaiming would be ~0.08)."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv2d(1 if i == 0 else 16, 16, 3, padding=1) for i in range(6)]
        )
        self.fc = nn.Linear(16 * 64, 10)
        for conv in self.convs:
            nn.init.normal_(conv.weight, 0.0, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = torch.relu(conv(x))
        return self.fc(x.flatten(1))


def exploding_large_init_cnn(root: Path) -> Path:
    torch.manual_seed(0)
    m = DeepConv()
    opt = torch.optim.Adam(m.parameters(), 1e-4)
    return train(Setup("explode-deep-cnn", m, opt, digit_images(), steps=100, batch=32), root)


def exploding_moderate_init_sgd(root: Path) -> Path:
    """Ten ReLU layers with N(0, 0.3) weights (kaiming: ~0.18): logits in the hundreds."""
    torch.manual_seed(0)
    m = mlp([64] + [64] * 9 + [10])
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.3)
    opt = torch.optim.SGD(m.parameters(), lr=1e-4)
    return train(Setup("explode-moderate-init", m, opt, digits(), steps=150), root)


# -- vanishing_gradients ------------------------------------------------------------------------
def vanishing_deep_sigmoid(root: Path) -> Path:
    torch.manual_seed(0)
    m = mlp([64] + [64] * 9 + [10], nn.Sigmoid)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    return train(Setup("vanish-sigmoid", m, opt, digits(), steps=200), root)


def vanishing_small_init_tanh(root: Path) -> Path:
    """Eight tanh layers initialised with N(0, 0.05): the signal shrinks ~4x per layer."""
    torch.manual_seed(0)
    m = mlp([30] + [32] * 7 + [1], nn.Tanh)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.05)
            nn.init.zeros_(layer.bias)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    return train(Setup("vanish-tanh", m, opt, breast_cancer(), loss=bce, steps=200), root)
