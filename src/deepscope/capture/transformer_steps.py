"""The transformer capture's side of a watch's steps: rows when a step is written, probe
patterns when it ends, one last pattern of the trained model.

A step's statistics may be written after training has gone on (once its device copy lands on
an accelerator), but its probe pattern must be taken when the step ends: the next step changes
the weights. So the pattern waits here for its step's rows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from torch import nn

from deepscope.capture.stats import StepStats
from deepscope.capture.transformer import TransformerCapture, TransformerRows

RowsSink = Callable[[int, TransformerRows], None]


class TransformerSteps:
    """Hands each written step's transformer rows (and due probe patterns) to ``on_rows``.

    ``writes`` is False on the ranks that write nothing; ``quiet`` keeps the watch's own hooks
    out of the probe's forward; ``emit`` reports a probe that failed.
    """

    def __init__(self, tx: TransformerCapture, on_rows: RowsSink | None, *, writes: bool,
                 quiet: Callable[[], AbstractContextManager[Any]],
                 emit: Callable[[dict[str, Any]], None]) -> None:
        self.tx = tx
        self._on_rows = on_rows if writes else None
        self._quiet, self._emit = quiet, emit
        self._ended: dict[int, StepStats] = {}
        self._patterns: dict[int, list[tuple[str, Any]]] = {}
        self._last_probe_step: int | None = None

    def ended(self, stats: StepStats, runner: nn.Module) -> None:
        """A sampled step ended: keep its statistics for :meth:`written`; take a due pattern."""
        if self._on_rows is None:
            return
        if self.tx.probe_due():
            self._patterns[stats.step] = self._probe(stats.step, runner)
        self._ended[stats.step] = stats

    def written(self, step: int) -> None:
        """The step's rows are written: its transformer rows follow (read with its transfer)."""
        stats = self._ended.pop(step, None)
        if stats is None or self._on_rows is None:
            return
        rows = self.tx.rows(stats)
        rows.patterns = self._patterns.pop(step, [])
        if rows:
            self._on_rows(step, rows)

    def final_probe(self, step: int | None, runner: nn.Module) -> None:
        """The probe pattern of the trained model, when the last one is older."""
        tx = self.tx
        if self._on_rows is None or step is None or tx.probe is None or not tx.attention \
                or tx.compiled or self._last_probe_step == step:
            return
        patterns = self._probe(step, runner)
        if patterns:
            self._on_rows(step, TransformerRows(patterns=patterns))

    def _probe(self, step: int, runner: nn.Module) -> list[tuple[str, Any]]:
        """Attention patterns of the probe batch (never stops training: a failure is an event)."""
        try:
            with self._quiet():
                patterns = self.tx.patterns(runner)
            self._last_probe_step = step
            return patterns
        except Exception as err:  # noqa: BLE001 - a bad probe batch must not stop training
            self.tx.probe = None
            self._emit({"kind": "probe_failed", "step": step, "layer": None,
                        "data": {"error": f"{type(err).__name__}: {err}"[:500]}})
            return []
