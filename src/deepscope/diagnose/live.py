"""Diagnosis while training: report a problem once, as soon as it is certain.

The Run calls :meth:`LiveMonitor.on_event` for every capture event (a ``nonfinite`` event
becomes a finding at once, naming the first module in forward order) and
:meth:`LiveMonitor.check` every few sampled steps with a reader of the run being written. Only
rules whose verdict later data cannot overturn run live (``Rule.live``: non-finite values, no
gradient, frozen parameters, unnormalised inputs, exploding gradients, dead units); loss-curve
rules need the whole curve and run after training. Rules are re-run on a geometric schedule of
training steps (x1.5), so the total cost over a run stays within ~3 full diagnoses while a
problem is reported at most ~1.5x later than the first step it was certain; calls between two
schedule points return at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from deepscope.diagnose.base import Finding
from deepscope.diagnose.engine import build_rules
from deepscope.diagnose.rules.nonfinite import Nonfinite
from deepscope.diagnose.view import RunView
from deepscope.errors import DeepscopeError
from deepscope.store.reader import RunReader

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
        if event.get("kind") != "nonfinite" or self._nonfinite is None:
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

    def check(self, reader: RunReader, step: int) -> list[Finding]:
        """New findings on the data written so far (cheap: most calls return at once)."""
        if step < self._next_at:
            return []
        self._next_at = max(step + 1, math.ceil(step * GROWTH))
        try:
            steps = reader.stat_steps("activation")
        except DeepscopeError:
            return []
        n = len(steps)
        if n == 0:
            return []
        view = RunView(reader, upto=int(steps[-1]))
        found: list[Finding] = []
        for rule in self.rules:
            if n < rule.min_live_steps:
                continue
            try:
                if rule.missing(view) is None:
                    found.extend(rule.check(view))
            except Exception:  # noqa: BLE001 - diagnosis must never stop a training
                continue  # e.g. a read racing the writer; the next check retries
        return self._fresh(found)
