"""``nothing_captured``: a watched run that recorded no layer statistics at all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deepscope.diagnose.base import Finding, Rule
from deepscope.diagnose.view import as_view
from deepscope.store.reader import RunReader


class NothingCaptured(Rule):
    """``run.watch`` was called but no statistics exist: the run could not be checked.

    Mechanism: the run's metadata names at least one watch, and no ``stats`` row was ever written
    although the run is over (or has logged ``min_log_points`` scalar points). The run itself also
    stores this finding when a watch saw no training forward by the 50th ``log`` call or at
    ``finish()``, with the reason (forwards under ``no_grad``, another module trained, ``watch``
    too late); this rule catches runs that died before saying so. It is an ``error`` because every
    other rule is blind on such a run: a clean result would be a lie. Evidence: ``watches``,
    ``scalar_points``, ``status``. Suggestion: watch the module the training step calls.

    Example:
        >>> NothingCaptured.Params().min_log_points
        50

    """

    code = "nothing_captured"
    requires = ()

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            min_log_points: scalar points after which a still-running run with no statistics is
                reported (a run that just started has none yet).

        """

        min_log_points: int = 50

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        meta = view.reader.meta()
        if meta.status == "running" and meta.last_step is None:
            return
        watches = list(meta.watches)
        if not watches or len(view.reader.stat_steps()):
            return
        if any(f.get("code") == self.code for f in view.findings()):
            return  # the run said so itself, with the reason
        points = max((view.scalars(t).total_points for t in view.scalar_tags()), default=0)
        if meta.status == "running" and points < self.params.min_log_points:
            return
        names = ", ".join(sorted(w or "the model" for w in watches))
        yield self.finding(
            "error",
            None,
            None,
            f"Nothing was captured: {names} was watched but no layer statistics were recorded "
            f"({points} scalar point(s) logged), so this run could not be checked.",
            {"watches": sorted(watches), "scalar_points": points, "status": meta.status},
            "call run.watch() on the module your training step actually calls, before "
            "training starts, with gradients enabled in training forwards",
        )

