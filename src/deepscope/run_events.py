"""What a run does with capture events and live findings: store them, say them, or stop.

Every capture event is stored; the live monitor (``diagnose/live.py``) turns the certain ones
into findings at once and re-checks the data written so far on a geometric schedule, at most
every :data:`LIVE_INTERVAL_S`. Findings are stored and printed (rank 0 only, one line each);
``on_nonfinite="raise"`` stops training at the first NaN/Inf with its origin in the message.
Diagnosis never stops a training run: a rule that fails is recorded as an event and switched off.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from deepscope.errors import DeepscopeError, NonFiniteError

#: Seconds between two live checks of the stored data.
LIVE_INTERVAL_S = 2.0
_console = Console(stderr=True)


def _make_monitor() -> Any:
    try:
        from deepscope.diagnose.live import LiveMonitor
    except ImportError:
        return None
    return LiveMonitor()


class RunEvents:
    """The event and finding side of one :class:`~deepscope.run.Run`."""

    def __init__(self, writer: Any, path: Path, rank: int) -> None:
        self._writer, self._path, self._rank = writer, path, rank
        self.on_nonfinite = "warn"
        self._monitor: Any = None
        self._reader: Any = None
        self._last_live = 0.0
        self._loss_reported = False
        # Findings come from the training thread and from a signal or exit handler.
        self._lock = threading.RLock()

    def enable_diagnosis(self) -> None:
        """Live diagnosis from now on (rank 0 only: the other ranks write nothing)."""
        if self._rank == 0 and self._monitor is None:
            self._monitor = _make_monitor()

    @property
    def diagnosing(self) -> bool:
        return self._monitor is not None

    def on_event(self, event: dict[str, Any]) -> None:
        """Store a capture event; a certain one becomes a finding; ``raise`` stops on NaN."""
        with self._lock:
            self._on_event(event)

    def _on_event(self, event: dict[str, Any]) -> None:
        self._writer.add_event(
            event["kind"], event.get("step"), event.get("layer"), event.get("data", {})
        )
        findings = []
        if self._monitor is not None:
            try:
                findings = self._monitor.on_event(event)
            except Exception as err:  # noqa: BLE001 - diagnosis must never stop a training run
                self._failed(err, event.get("step"))
        for f in findings:
            self.report(f)
        if event["kind"] != "nonfinite":
            return
        where = event.get("layer") or event["data"].get("tag") or "the loss"
        if self.on_nonfinite == "raise":
            self._writer.flush()
            raise NonFiniteError(findings[0].message if findings else
                                 f"non-finite values first produced by {where} at step "
                                 f"{event.get('step')}")
        if not findings and self.on_nonfinite == "warn" and self._rank == 0:
            _console.print(f"[bold red]deepscope[/]: non-finite values first produced by {where} "
                           f"at step {event.get('step')}", markup=True, highlight=False)

    def loss_nonfinite(self, tag: str, value: float, step: int) -> None:
        """A logged loss is NaN/Inf and no watch could say where it came from: one event."""
        if self._loss_reported:
            return
        self._loss_reported = True
        self.on_event({"kind": "nonfinite", "step": step, "layer": None,
                       "data": {"source": "loss", "tag": tag, "value": str(value),
                                "modules": []}})

    def live_check(self, step: int) -> None:
        """Re-run the live rules on what is stored (cheap: most calls return at once)."""
        if self._monitor is None or time.monotonic() - self._last_live < LIVE_INTERVAL_S:
            return
        with self._lock:
            self._live_check(step)

    def _live_check(self, step: int) -> None:
        self._last_live = time.monotonic()
        if self._monitor is None:
            return
        try:
            if self._reader is None:
                from deepscope.store import open_reader

                self._reader = open_reader(self._path)
            findings = self._monitor.check(self._reader, step)
        except DeepscopeError:
            return
        except Exception as err:  # noqa: BLE001 - diagnosis must never stop a training run
            self._failed(err, step)
            return
        for f in findings:
            self.report(f)

    def _failed(self, err: Exception, step: int | None) -> None:
        self._monitor = None
        self._writer.add_event(
            "live_diagnosis_failed", step, None, {"error": f"{type(err).__name__}: {err}"}
        )

    def report(self, finding: Any) -> None:
        """Store a finding (a ``Finding`` or its dict) and print it on one line."""
        with self._lock:
            self._report(finding)

    def _report(self, finding: Any) -> None:
        if isinstance(finding, dict):
            from deepscope.diagnose.base import Finding

            finding = Finding.from_dict(finding)
        self._writer.add_finding(finding.to_dict(), source="live")
        if self._rank == 0 and (self.on_nonfinite != "ignore" or finding.code != "nonfinite"):
            _console.print(
                f"[bold yellow]deepscope[/] {finding.severity} [{finding.code}] {finding.message}",
                markup=True,
                highlight=False,
                soft_wrap=True,
            )

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
