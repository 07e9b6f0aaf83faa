"""Diagnosis while training: report a problem once, as soon as it is certain.

The Run calls :meth:`LiveMonitor.on_event` for every capture event (a ``nonfinite`` event
becomes a finding at once, naming the first module in forward order) and
:meth:`LiveMonitor.check` every few sampled steps with a reader of the run being written. Only
rules whose verdict later data cannot overturn run live (``Rule.live``: non-finite values, no
gradient, frozen parameters, unnormalised inputs, dead units, and the event rules
``gradients_not_zeroed``, ``train_in_eval_mode``, ``double_softmax``); loss-curve rules need the
whole curve and run after training. Rules are re-run on a geometric schedule of
training steps (x1.5), so the total cost over a run stays within ~3 full diagnoses while a
problem is reported at most ~1.5x later than the first step it was certain; calls between two
schedule points return at once.

Event rules (:class:`~deepscope.diagnose.base.EventRule`) keep the events they were handed and
judge them as they arrive (``gradients_not_zeroed`` and ``double_softmax`` from the events
alone, once the run's layers can be read), or at the next :meth:`check` when their verdict needs
the sampled steps (``train_in_eval_mode``); they cost a few list operations per sampled step.
A live ``double_softmax`` warning is the one verdict revised afterwards: when the training loss
later goes below the floor of cross-entropy on probabilities, the diagnosis after training
replaces it with an ``info`` finding of the same code and layer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from deepscope.diagnose.base import EventRule, Finding
from deepscope.diagnose.engine import build_rules
from deepscope.diagnose.rules.nonfinite import Nonfinite
from deepscope.diagnose.view import RunView
from deepscope.errors import DeepscopeError
from deepscope.store.reader import RunReader
from deepscope.store.records import Event

#: Growth of the number of sampled steps between two live checks.
GROWTH = 1.5


class LiveMonitor:
    """Turns capture events and a growing run into findings, each reported once.

    Args:
        config: rule parameters, as for :func:`deepscope.diagnose.diagnose`.

    Example:
        >>> mon = LiveMonitor()
        >>> [f.code for f in mon.on_event({"kind": "nonfinite", "step": 12, "layer": "fc2",
        ...                                "data": {"source": "activation"}})]
        ['nonfinite']
        >>> mon.on_event({"kind": "nonfinite", "step": 13, "layer": "fc2", "data": {}})
        []

    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.rules = [r for r in build_rules(config) if r.live]
        self._nonfinite = next((r for r in self.rules if isinstance(r, Nonfinite)), None)
        self._event_rules = {r.event: r for r in self.rules if isinstance(r, EventRule)}
        self._events: dict[str, list[Event]] = {kind: [] for kind in self._event_rules}
        self._pending: set[str] = set()
        self._reader: RunReader | None = None
        self._reported: set[tuple[str, str | None]] = set()
        self._next_at = 1

    def _fresh(self, findings: list[Finding]) -> list[Finding]:
        out = []
        for f in findings:
            # One non-finite finding per run: later NaNs are consequences of the first.
            key = (f.code, None if f.code == "nonfinite" else f.layer)
            if key not in self._reported:
                self._reported.add(key)
                out.append(f)
        return out

    def on_event(self, event: Mapping[str, Any]) -> list[Finding]:
        """Findings for one capture event (a ``nonfinite`` event gives one, the first time)."""
        kind = event.get("kind")
        if kind in self._event_rules:
            return self._on_rule_event(str(kind), event)
        if kind != "nonfinite" or self._nonfinite is None:
            return []
        data = dict(event.get("data") or {})
        keep = {k: data[k] for k in ("modules", "input_nonfinite", "tag", "value") if k in data}
        step = event.get("step")
        f = self._nonfinite.build(
            int(step) if step is not None else 0,
            event.get("layer"),
            str(data.get("source", "activation")),
            keep,
        )
        return self._fresh([f])

    def _on_rule_event(self, kind: str, event: Mapping[str, Any]) -> list[Finding]:
        step = event.get("step")
        if step is None:
            return []
        self._events[kind].append(Event(len(self._events[kind]), int(step), kind,
                                        event.get("layer"), dict(event.get("data") or {}), 0.0))
        rule = self._event_rules[kind]
        if any(code == rule.code for code, _ in self._reported):
            return []  # reported once: later events change nothing live
        view = RunView(self._reader) if self._reader is not None else None
        if not rule.live_from_events or view is None or not view.layers():
            # Judged at the next check(): with the sampled steps, or once the layers (which
            # parameters the optimizer owns) have reached the store.
            self._pending.add(kind)
            return []
        return self._fresh(rule.judge(view, self._events[kind], None))

    def _judge_pending(self, reader: RunReader, upto: int) -> list[Finding]:
        """Event rules whose events arrived since the last check, on the sampled steps so far."""
        found: list[Finding] = []
        view = RunView(reader, upto=upto)
        if not view.layers():
            return found  # nothing of the run has reached the store yet: keep them pending
        for kind in sorted(self._pending):
            rule = self._event_rules[kind]
            if any(code == rule.code for code, _ in self._reported):
                continue
            try:
                found.extend(rule.judge(view, self._events[kind], view.sampled_steps()))
            except Exception:  # noqa: BLE001 - diagnosis must never stop a training
                continue
        self._pending.clear()
        return found

    def check(self, reader: RunReader, step: int) -> list[Finding]:
        """New findings on the data written so far (cheap: most calls return at once)."""
        self._reader = reader
        found: list[Finding] = self._judge_pending(reader, step) if self._pending else []
        if step < self._next_at:
            return self._fresh(found)
        self._next_at = max(step + 1, math.ceil(step * GROWTH))
        try:
            steps = reader.stat_steps("activation")
        except DeepscopeError:
            return self._fresh(found)
        n = len(steps)
        if n == 0:
            return self._fresh(found)
        view = RunView(reader, upto=int(steps[-1]))
        for rule in self.rules:
            if n < rule.min_live_steps or isinstance(rule, EventRule):
                continue
            try:
                if rule.missing(view) is None:
                    found.extend(rule.check(view))
            except Exception:  # noqa: BLE001 - diagnosis must never stop a training
                continue  # e.g. a read racing the writer; the next check retries
        return self._fresh(found)
