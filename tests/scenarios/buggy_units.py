"""Buggy trainings: dead and saturated units, broken gradient flow, frozen layers, raw inputs."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from scenarios.common import (
    Setup,
    bce,
    breast_cancer,
    digit_images,
    digit_rows,
    digits,
    mlp,
    train,
    wine,
)
from scenarios.healthy import ConvNet, LSTMClassifier


# -- dead_units ---------------------------------------------------------------------------------
def dead_negative_bias(root: Path) -> Path:
    """The first layer's bias starts at -6: its ReLUs never fire."""
    torch.manual_seed(0)
    m = mlp([64, 128, 64, 10])
    nn.init.constant_(m[0].bias, -6.0)
    return train(Setup("dead-bias", m, torch.optim.Adam(m.parameters(), 1e-3), digits(),
                       steps=200), root)


class FuncReluBlocks(nn.Module):
    """ReLU applied with F.relu inside the blocks (no nn.ReLU module to watch)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 32, 3, padding=1)
        self.block = nn.Linear(32 * 64, 64)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.conv(x)).flatten(1)
        return self.head(F.relu(self.block(h)))


class Features(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv2(F.relu(self.conv1(x))))


class CNNHighLR(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = Features()
        self.fc = nn.Linear(32 * 64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(1))


def dead_high_lr_cnn(root: Path) -> Path:
    """Adam at lr 0.05 kills the channels of a CNN whose ReLUs are F.relu calls."""
    torch.manual_seed(0)
    m = CNNHighLR()
    opt = torch.optim.Adam(m.parameters(), 0.05)
    return train(Setup("dead-high-lr", m, opt, digit_images(), steps=200), root)


# -- saturated_activations ----------------------------------------------------------------------
def saturated_sigmoid_large_init(root: Path) -> Path:
    torch.manual_seed(0)
    m = mlp([13, 64, 64, 3], nn.Sigmoid)
    for layer in m:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 3.0)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    return train(Setup("saturated-sigmoid", m, opt, wine(), steps=200, batch=32), root)


class TanhCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, 3, padding=1)
        self.act = nn.Tanh()
        self.fc = nn.Linear(16 * 64, 10)
        with torch.no_grad():
            self.conv.weight.mul_(20.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.conv(x)).flatten(1))


def saturated_tanh_cnn(root: Path) -> Path:
    torch.manual_seed(0)
    m = TanhCNN()
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    return train(Setup("saturated-tanh-cnn", m, opt, digit_images(), steps=200), root)


# -- no_gradient --------------------------------------------------------------------------------
class TwoBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(64, 32)
        self.b = nn.Linear(64, 32)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([F.relu(self.a(x)), F.relu(self.b(x)).detach()], 1))


def no_grad_detached_branch(root: Path) -> Path:
    torch.manual_seed(0)
    m = TwoBranch()
    return train(Setup("nograd-detached", m, torch.optim.Adam(m.parameters(), 1e-3), digits(),
                       steps=150), root)


class LSTMWithProjection(LSTMClassifier):
    """The input projection is computed under torch.no_grad(): it never learns."""

    def __init__(self) -> None:
        super().__init__(d_in=16)
        self.proj = nn.Linear(8, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            x = self.proj(x)
        return super().forward(x)


class DetachedMiddle(nn.Module):
    """The hidden state is detached half-way: everything before it never learns."""

    def __init__(self) -> None:
        super().__init__()
        self.l1 = nn.Linear(64, 64)
        self.l2 = nn.Linear(64, 64)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.l2(torch.relu(self.l1(x)).detach())))


def no_grad_detached_middle(root: Path) -> Path:
    torch.manual_seed(0)
    m = DetachedMiddle()
    return train(Setup("nograd-middle", m, torch.optim.Adam(m.parameters(), 1e-3), digits(),
                       steps=150), root)


def no_grad_lstm_projection(root: Path) -> Path:
    torch.manual_seed(0)
    m = LSTMWithProjection()
    return train(Setup("nograd-lstm", m, torch.optim.Adam(m.parameters(), 3e-3), digit_rows(),
                       steps=150), root)


# -- frozen_parameters --------------------------------------------------------------------------
def frozen_optimizer_subset(root: Path) -> Path:
    """The optimizer only gets the head: the hidden layers keep their random init."""
    torch.manual_seed(0)
    m = mlp([13, 64, 64, 3])
    opt = torch.optim.Adam(m[4].parameters(), 1e-2)
    return train(Setup("frozen-subset", m, opt, wine(), steps=150, batch=32), root)


def frozen_replaced_head(root: Path) -> Path:
    """The classifier is replaced after the optimizer was built; watched without optimizer."""
    torch.manual_seed(0)
    m = ConvNet()
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    m.fc = nn.Linear(32 * 4 * 4, 10)
    return train(Setup("frozen-replaced", m, opt, digit_images(), steps=150,
                       watch_optimizer=False), root)


# -- unnormalized_inputs ------------------------------------------------------------------------
def unnormalized_raw_pixels(root: Path) -> Path:
    """Digit images scaled like raw 8-bit pixels (0..256)."""
    torch.manual_seed(0)
    m = ConvNet()
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    return train(Setup("raw-pixels", m, opt, digit_images(factor=16.0), steps=150), root)


def unnormalized_raw_digits_mlp(root: Path) -> Path:
    """Digit features left at 0..16."""
    torch.manual_seed(0)
    m = mlp([64, 128, 64, 10])
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    return train(Setup("raw-digits", m, opt, digits(scale=False), steps=150), root)


def unnormalized_raw_tabular(root: Path) -> Path:
    """Breast-cancer features without scaling (areas in the hundreds, smoothness ~0.1)."""
    torch.manual_seed(0)
    m = mlp([30, 32, 32, 1], nn.Tanh)
    opt = torch.optim.Adam(m.parameters(), 1e-3)
    return train(Setup("raw-tabular", m, opt, breast_cancer(scale=False), loss=bce, steps=150),
                 root)
