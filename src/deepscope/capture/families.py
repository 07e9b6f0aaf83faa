"""Which modules produce ReLU-like or bounded (sigmoid/tanh-like) outputs.

Dead units only make sense for outputs that are exactly zero when inactive; saturation only for
outputs squeezed between two bounds. The family decides which statistic is meaningful.
"""

from __future__ import annotations

from torch import nn

RELU_LIKE: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.Threshold)
SIGMOID_LIKE: tuple[type[nn.Module], ...] = (nn.Sigmoid, nn.Hardsigmoid)
TANH_LIKE: tuple[type[nn.Module], ...] = (nn.Tanh, nn.Hardtanh, nn.Softsign)


def family_of(module: nn.Module) -> str:
    """``relu``, ``sigmoid``, ``tanh`` or ``other``.

    Example:
        >>> from torch import nn
        >>> family_of(nn.ReLU()), family_of(nn.Tanh()), family_of(nn.Linear(2, 2))
        ('relu', 'tanh', 'other')

    """
    if isinstance(module, RELU_LIKE):
        return "relu"
    if isinstance(module, SIGMOID_LIKE):
        return "sigmoid"
    if isinstance(module, TANH_LIKE) and not isinstance(module, nn.ReLU6):
        return "tanh"
    return "other"


def bounds_of(module: nn.Module, family: str) -> tuple[float, float] | None:
    """Output bounds of a bounded activation (``None`` for unbounded families)."""
    if family == "sigmoid":
        return (0.0, 1.0)
    if family == "tanh":
        if isinstance(module, nn.Hardtanh):
            return (float(module.min_val), float(module.max_val))
        return (-1.0, 1.0)
    return None
