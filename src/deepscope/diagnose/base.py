"""Rules, findings and the shared mechanics of rules.

A :class:`Rule` looks at a stored run through a :class:`~deepscope.store.reader.RunReader` and
yields :class:`Finding` objects. Each rule has a stable ``code`` (see DESIGN.md), a frozen
``Params`` dataclass whose fields are the documented thresholds, and ``requires``: the statistic
kinds (or ``"scalars"``) it needs; the engine skips a rule whose data was not recorded.

Rules judge trends, never a single sample: :class:`LayerTrendRule` and :class:`ScalarTrendRule`
hand them per-layer matrices and loss series restricted to the steps before the first non-finite
value (after it, every statistic is garbage and already explained by ``nonfinite``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader
from deepscope.store.records import Event

Severity = Literal["info", "warning", "error"]

#: Order of severities, lowest first.
SEVERITIES: tuple[str, ...] = ("info", "warning", "error")


def severity_rank(severity: str) -> int:
    """Position of ``severity`` in :data:`SEVERITIES` (``info`` = 0)."""
    return SEVERITIES.index(severity)


def _jsonable(value: Any) -> Any:
    """Evidence must survive ``json.dumps``: numpy scalars become floats, NaN becomes None."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if np.isfinite(v) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem.

    Attributes:
        code: stable finding code (``dead_units``, ``nonfinite``, ...).
        severity: ``info``, ``warning`` or ``error``.
        layer: the culprit module (dotted name) or None when the problem is run-wide.
        step: the training step where the problem was first certain, or None.
        message: one sentence that says what is wrong, with the numbers.
        evidence: the numbers that fired the rule (JSON-able).
        suggestion: one concrete fix.

    Example:
        >>> f = Finding("dead_units", "warning", "fc1", 40, "93% dead", {"dead_frac": 0.93},
        ...             "use LeakyReLU")
        >>> sorted(f.to_dict())
        ['code', 'evidence', 'layer', 'message', 'severity', 'step', 'suggestion']

    """

    code: str
    severity: Severity
    layer: str | None
    step: int | None
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    suggestion: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape shared by the CLI, the store, the server and the report."""
        return {
            "code": self.code,
            "severity": self.severity,
            "layer": self.layer,
            "step": None if self.step is None else int(self.step),
            "message": self.message,
            "evidence": _jsonable(self.evidence),
            "suggestion": self.suggestion,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """Rebuild a finding stored in a run (extra keys such as ``source`` are ignored)."""
        sev = d.get("severity", "warning")
        return cls(
            code=str(d["code"]),
            severity=sev if sev in SEVERITIES else "warning",
            layer=d.get("layer"),
            step=d.get("step"),
            message=str(d.get("message", "")),
            evidence=dict(d.get("evidence") or {}),
            suggestion=str(d.get("suggestion", "")),
        )


class Rule:
    """One finding code. Subclasses set ``code``, ``requires``, ``Params`` and ``check``.

    Attributes:
        code: the finding code this rule emits.
        requires: statistic kinds (``grad``, ``activation``...) or ``"scalars"`` needed.
        live: whether :class:`~deepscope.diagnose.live.LiveMonitor` may run it on a run being
            written (only rules whose verdict later data cannot overturn).
        min_live_steps: sampled steps needed before a live verdict.

    Example:
        >>> from deepscope.diagnose.rules import ALL_RULES
        >>> rule = ALL_RULES[0]()
        >>> rule.code
        'nonfinite'

    """

    code: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    live: ClassVar[bool] = False
    min_live_steps: ClassVar[int] = 8

    @dataclass(frozen=True)
    class Params:
        """No thresholds."""

    def __init__(self, params: Any = None) -> None:
        self.params = params if params is not None else self.Params()

    @classmethod
    def with_overrides(cls, overrides: dict[str, Any]) -> Rule:
        """A rule whose ``Params`` fields are replaced by ``overrides`` (already validated)."""
        return cls(dataclasses.replace(cls.Params(), **overrides))

    def missing(self, reader: RunReader) -> str | None:
        """Why this rule cannot run on ``reader`` (None when it can)."""
        view = as_view(reader)
        kinds = set(view.stat_kinds())
        for need in self.requires:
            if need == "scalars":
                if not view.scalar_tags():
                    return "no scalars logged (call run.log)"
            elif need not in kinds:
                return f"no {need} statistics recorded"
        return None

    def check(self, reader: RunReader) -> Iterable[Finding]:
        """Yield the findings of this rule on one run."""
        raise NotImplementedError

    def finding(
        self,
        severity: Severity,
        layer: str | None,
        step: int | None,
        message: str,
        evidence: dict[str, Any],
        suggestion: str,
    ) -> Finding:
        """A finding with this rule's code."""
        return Finding(self.code, severity, layer, step, message, evidence, suggestion)


class LayerTrendRule(Rule):
    """A rule over per-layer statistics, restricted to the steps before the first non-finite value.

    Example:
        >>> from deepscope.diagnose.rules.dead_units import DeadUnits
        >>> issubclass(DeadUnits, LayerTrendRule)
        True

    """

    def matrix(
        self, reader: RunReader, kind: str, stat: str
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(layers, steps, values)`` of one statistic before the first non-finite step."""
        view = as_view(reader)
        m = view.stat_matrix(kind, stat)
        keep = m.steps < view.horizon()
        return list(m.layers), m.steps[keep], m.values[:, keep]

    def layer_info(self, reader: RunReader) -> dict[str, Any]:
        """Watched layers by name."""
        return {info.name: info for info in as_view(reader).layers()}


class EventRule(Rule):
    """A rule over one kind of capture event (written at the end of sampled steps that trained).

    The same verdict, :meth:`judge`, runs after training on every stored event and live on the
    events seen so far (:class:`~deepscope.diagnose.live.LiveMonitor` calls it from
    ``on_event``), so a live finding is exactly what the full diagnosis would say from the same
    events. ``sampled`` is the sorted array of sampled steps when known (None live: events alone
    must then suffice, and the rule waits for ``min_events``).

    Example:
        >>> from deepscope.diagnose.rules.gradients_not_zeroed import GradientsNotZeroed
        >>> GradientsNotZeroed.event
        'grads_not_zeroed'

    """

    #: The capture event kind this rule reads.
    event: ClassVar[str] = ""
    #: Whether live verdicts come from the events alone (else at the next live check).
    live_from_events: ClassVar[bool] = True
    live = True
    min_live_steps = 1

    def events(self, reader: RunReader) -> list[Event]:
        """The rule's events that have a step, the first one per step, in step order."""
        seen: dict[int, Event] = {}
        for e in as_view(reader).events(self.event):
            if e.step is not None and int(e.step) not in seen:
                seen[int(e.step)] = e
        return [seen[s] for s in sorted(seen)]

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        events = self.events(view)
        return self.judge(view, events, view.sampled_steps()) if events else []

    def judge(
        self, view: RunView | None, events: list[Event], sampled: np.ndarray | None
    ) -> list[Finding]:
        """Findings from ``events`` (``view`` is None when judged live from events alone)."""
        raise NotImplementedError


class ScalarTrendRule(Rule):
    """A rule over a logged loss series (tags from :mod:`deepscope.diagnose.metric_names`).

    Example:
        >>> from deepscope.diagnose.rules.loss_plateau import LossPlateau
        >>> issubclass(LossPlateau, ScalarTrendRule)
        True

    """

    requires = ("scalars",)
    #: Longer series are condensed to block medians (see :func:`trends.condense`).
    max_points: ClassVar[int] = 1000

    def missing(self, reader: RunReader) -> str | None:
        """Also skipped on adversarial runs (a GAN): their losses are not meant to descend."""
        why = super().missing(reader)
        if why is not None:
            return why
        gan = self.adversarial(reader)
        if gan is not None:
            return f"adversarial training ({gan}): its losses are not meant to descend"
        return None

    def series(
        self, reader: RunReader, tags: Iterable[str]
    ) -> tuple[str, np.ndarray, np.ndarray] | None:
        """``(tag, steps, values)`` of the recognised tag with the most points, up to its first
        non-finite value (see :func:`~deepscope.diagnose.metric_names.most_points`).

        The cut uses the tag's own values: users may log scalars with their own step numbering
        (epochs), which cannot be compared with the forward-pass steps of the statistics.
        """
        from deepscope.diagnose.metric_names import most_points

        view: RunView = as_view(reader)
        present = set(view.scalar_tags())
        tags = tuple(tags)
        tag = most_points(tags, {t: view.scalars(t).total_points for t in tags if t in present})
        if tag is None:
            return None
        s = view.scalars(tag)
        bad = np.flatnonzero(~np.isfinite(s.values))
        end = int(bad[0]) if len(bad) else len(s.values)
        return (tag, *trends.condense(s.steps[:end], s.values[:end], self.max_points))

    def adversarial(self, reader: RunReader) -> str | None:
        """Why the run looks like a GAN (its losses are not meant to descend), or None."""
        from deepscope.diagnose.metric_names import adversarial_evidence

        view = as_view(reader)
        return adversarial_evidence(view.scalar_tags(), (i.name for i in view.layers()))

    def train_loss(self, view: RunView) -> tuple[str, np.ndarray, np.ndarray, float] | None:
        """``(tag, steps, values, initial level)`` of the training loss, or None when it has
        fewer than ``Params.min_points`` points or does not start above zero.
        """
        from deepscope.diagnose.metric_names import TRAIN_LOSS_TAGS

        found = self.series(view, TRAIN_LOSS_TAGS)
        if found is None or len(found[2]) < self.params.min_points:
            return None
        tag, steps, values = found
        initial = trends.level(values[: trends.head_count(len(values), 0.1, 1, 5)])
        if not initial > 1e-6:
            return None
        return tag, steps, values, initial
