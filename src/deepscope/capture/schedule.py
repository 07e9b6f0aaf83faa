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


class NthSample:
    """True on every ``k``-th call: a thinned custom schedule (called at its sampled steps)."""

    def __init__(self, k: int) -> None:
        self.k, self.calls = k, 0

    def __call__(self, step: int) -> bool:
        self.calls += 1
        return (self.calls - 1) % self.k == 0


def thinned(schedule: Schedule, k: int) -> Schedule:
    """Which of ``schedule``'s sampled steps also get histograms: every ``k``-th (all warm-up
    steps of an :class:`Every`, and steps on its grid: every 10 thinned by 5 is every 50).

    Example:
        >>> h = thinned(Every(10), 5)
        >>> [k for k in range(120) if Every(10)(k) and h(k)]
        [0, 1, 2, 50, 100]

    """
    if k == 1:
        return schedule
    if isinstance(schedule, Every):
        return Every(schedule.n * k, schedule.warmup)
    return NthSample(k)


@dataclass(frozen=True)
class Preset:
    """What a cost preset samples."""

    every: int
    histograms: bool
    activation_grads: bool
    #: Histograms at every k-th sampled step: binning is the costliest statistic of a small
    #: model's sampled step (see bench/overhead.py), and histograms change slowly.
    histogram_every: int = 1


#: Cost presets. ``economy`` for large models, ``default`` for everyday training (the overhead
#: bench/overhead.py measures is quoted in the README), ``full`` for debugging.
PRESETS: dict[str, Preset] = {
    "economy": Preset(50, histograms=False, activation_grads=False),
    "default": Preset(10, histograms=True, activation_grads=False, histogram_every=5),
    "full": Preset(1, histograms=True, activation_grads=True),
}
