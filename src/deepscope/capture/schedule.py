"""Sampling schedules: plain ``step -> bool`` callables, and the documented cost presets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Schedule = Callable[[int], bool]


@dataclass(frozen=True)
class Every:
    """Sample every ``n``-th step and always the first ``warmup`` steps (where problems start).

    Example:
        >>> s = Every(10, warmup=3)
        >>> [k for k in range(25) if s(k)]
        [0, 1, 2, 10, 20]

    """

    n: int = 10
    warmup: int = 3

    def __post_init__(self) -> None:
        if self.n < 1:
            from deepscope.errors import InvalidArgumentError

            raise InvalidArgumentError(f"every must be >= 1, got {self.n}")

    def __call__(self, step: int) -> bool:
        return step < self.warmup or step % self.n == 0


#: Cost presets: (every, histograms, activation_grads). ``economy`` for large models,
#: ``default`` for everyday training (<= 5% overhead, see bench/overhead.py),
#: ``full`` for debugging.
PRESETS: dict[str, tuple[int, bool, bool]] = {
    "economy": (50, False, False),
    "default": (10, True, False),
    "full": (1, True, True),
}
