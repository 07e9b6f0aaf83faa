"""What becomes of a sampled step once it has trained: its rows, histograms and events.

Written when the step ends on the CPU and across ranks (every rank takes part in the
reduction); on an accelerator once its device-to-host copy has landed (training goes on
meanwhile). A CPU step is not finished on another thread: its numpy work on small arrays holds
the GIL, so the training thread waited for it at its next torch call anyway (measured: the
optimizer's profiler exit took 0.5 ms per sampled step there, nothing without the thread).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deepscope.capture.distributed import RankReducer
from deepscope.capture.layers import Layer
from deepscope.capture.nonfinite import FiniteCheck
from deepscope.capture.signals import StepSignals
from deepscope.capture.stats import HistRow, StatRow, StepStats

Sink = Callable[[int, list[StatRow], list[HistRow]], None]


@dataclass
class EndedStep:
    """A sampled step as it was when it ended (order and layers copied: training goes on)."""

    stats: StepStats
    signals: StepSignals
    trained: bool
    forward_order: dict[str, int]
    layers: list[Layer]
    #: No optimizer: a non-finite gradient is only reported if the next weights are bad too.
    deferred: bool


class StepEnd:
    """Turns ended steps into rows, histograms and events, in step order."""

    def __init__(self, sink: Sink, emit: Callable[[dict[str, Any]], None], root_name: str, *,
                 finite: FiniteCheck | None, reducer: RankReducer | None, rank: int,
                 on_step_end: Callable[[int], None] | None) -> None:
        self._sink, self._emit, self._root = sink, emit, root_name
        self._finite, self._reducer, self._rank = finite, reducer, rank
        self._on_step_end = on_step_end
        self._in_flight: list[EndedStep] = []

    def hand_over(self, ended: EndedStep) -> None:
        stats = ended.stats
        if self._reducer is None and stats.on_accelerator():
            stats.stage()  # the copy runs while training goes on; written once it has landed
            self._in_flight.append(ended)
            self.drain(block=False)
        else:
            self._finish(ended)

    def drain(self, block: bool) -> None:
        """Write the steps that are ready (every one handed over, when ``block``)."""
        while self._in_flight and (block or self._in_flight[0].stats.ready()):
            self._finish(self._in_flight.pop(0))

    def _finish(self, ended: EndedStep) -> None:
        stats, reducer = ended.stats, self._reducer
        rows, hists = stats.collect(reducer)
        if reducer is not None and self._rank != 0:
            return
        if reducer is not None and reducer.outliers:
            self._emit({"kind": "rank_outliers", "step": stats.step, "layer": None,
                        "data": dict(reducer.outliers)})
        rows = [r for r in rows if not r[1].startswith("_")]
        hists = [h for h in hists if not h[1].startswith("_")]
        self._sink(stats.step, rows, hists)
        order = {lay.name: i for i, lay in enumerate(ended.layers)}
        for event in ended.signals.events(stats, rows, ended.trained, self._root, order):
            self._emit(event)
        if self._finite is not None and not self._finite.reported:
            event = self._finite.grad_event(stats.step, rows, ended.forward_order, ended.layers,
                                            deferred=ended.deferred)
            if event is not None:
                self._emit(event)
        if self._on_step_end is not None:
            self._on_step_end(stats.step)
