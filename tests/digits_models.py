"""Small models trained in a second or two on scikit-learn's bundled data, shared by the explain
and plots tests (imported by their conftest files)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from torch import nn

from models import MLP, SmallCNN


def digits() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """(flat N x 64 in [0, 1], images N x 1 x 8 x 8, labels)."""
    X, y = load_digits(return_X_y=True)
    flat = torch.tensor(X / 16.0, dtype=torch.float32)
    return flat, flat.reshape(-1, 1, 8, 8), y


def _fit(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float = 1e-2
) -> nn.Module:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def trained_cnn() -> nn.Module:
    torch.manual_seed(0)
    _, images, y = digits()
    return _fit(SmallCNN(channels=16), images[:1500], torch.as_tensor(y[:1500]), epochs=8)


def trained_mlp() -> nn.Module:
    torch.manual_seed(0)
    flat, _, y = digits()
    return _fit(MLP(64, 32, 10, depth=2), flat[:1500], torch.as_tensor(y[:1500]), epochs=10)


def cancer() -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = load_breast_cancer()
    X = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    return X.astype(np.float32), data.target, [str(n) for n in data.feature_names]


def trained_cancer_mlp() -> nn.Module:
    torch.manual_seed(0)
    X, y, _ = cancer()
    model = nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 2))
    return _fit(model, torch.as_tensor(X), torch.as_tensor(y), epochs=20)
