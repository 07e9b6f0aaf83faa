"""``dead_units``: a large share of ReLU-family units never activates over whole batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, LayerTrendRule
from deepscope.diagnose.rules._layers import (
    drop_ancestors,
    first_weight_layer,
    previous_weight_layer,
    root_name,
)
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader

#: Graph op types that are a ReLU applied as a function.
_RELU_OPS = ("relu", "relu_", "relu6", "threshold")


def relu_fed(view: RunView) -> set[str]:
    """Modules whose every output edge goes into a functional ReLU (from the stored graph)."""
    graph = view.graph()
    if not graph:
        return set()
    nodes = {n.get("id"): n for n in graph.get("nodes", [])}
    targets: dict[str, list[dict]] = {}
    for e in graph.get("edges", []):
        targets.setdefault(e.get("source"), []).append(nodes.get(e.get("target"), {}))
    out = set()
    for nid, outs in targets.items():
        src = nodes.get(nid, {})
        if src.get("kind") != "module" or src.get("is_container"):
            continue
        if outs and all(t.get("kind") == "op" and t.get("type") in _RELU_OPS for t in outs):
            out.add(str(src.get("name", nid)))
    return out


class DeadUnits(LayerTrendRule):
    """ReLU-family units that output zero for every sample of every batch.

    Mechanism: capture's ``dead_frac`` is the share of units (channels for conv maps) that are
    <= 0 over the whole batch. It is only meaningful for ReLU-like outputs: modules of family
    ``relu``; modules whose output only feeds ``F.relu``/``torch.relu`` in the recorded graph
    (a unit <= 0 for the whole batch there is a dead ReLU unit); or any module whose output is
    observed ReLU-like (minimum exactly 0 on ``relu_like`` of the samples with at least 5% exact
    zeros). The
    median ``dead_frac`` over the last half of the sampled steps must reach ``threshold`` — dead
    units stay dead (Lu et al., 2019, "Dying ReLU"), so a transient dip does not fire. A healthy
    ReLU network keeps well under 30% dead units at batch sizes >= 8 (measured on the healthy
    scenarios: at most 9%). Evidence: ``dead_frac`` (median of the last half),
    ``initial_dead_frac``, ``max_dead_frac``. Suggestion: dead from the first step -> fix the
    init / bias of the feeding layer; died during training -> lower the learning rate or use
    LeakyReLU.

    Example:
        >>> DeadUnits.Params().threshold
        0.5

    """

    code = "dead_units"
    requires = ("activation",)
    live = True
    min_live_steps = 10

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            threshold: share of dead units (median over the last half) that fires a warning.
            error_at: share that makes it an error.
            relu_like: share of samples with min == 0 that makes a non-ReLU module ReLU-like.
            min_steps: sampled steps needed.

        """

        threshold: float = 0.5
        error_at: float = 0.9
        relu_like: float = 0.9
        min_steps: int = 4

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        p = self.params
        layers, steps, dead = self.matrix(view, "activation", "dead_frac")
        if len(steps) < p.min_steps:
            return []
        info = self.layer_info(view)
        root = root_name(view)
        fed = relu_fed(view)
        hits: dict[str, tuple[int, dict]] = {}
        for i, name in enumerate(layers):
            hit = None if name == root else self._judge(steps, dead[i])
            if hit is None:
                continue
            # Read lazily: only a layer with many dead units needs its output checked.
            if name not in fed and not self._relu_like(
                info.get(name), *(self.matrix(view, "activation", f)[2][i]
                                  for f in ("min", "max", "zero_frac"))
            ):
                continue
            # A pooling or dropout layer right after dead units repeats the same series.
            if hit is not None and not any(np.array_equal(dead[i], dead[layers.index(o)],
                                                          equal_nan=True) for o in hits):
                hits[name] = hit
        ordered = list(info.values())
        out = []
        for name in drop_ancestors(list(hits)):
            idx, evidence = hits[name]
            feeder = name if name in fed else previous_weight_layer(name, ordered) or name
            evidence["fed_by"] = feeder
            evidence["first_after_input"] = feeder == first_weight_layer(ordered)
            evidence["from_start"] = evidence["initial_dead_frac"] >= p.threshold
            out.append(self._finding(name, int(steps[idx]), evidence, feeder, name in fed))
        return out

    def _relu_like(self, info, mins, maxs, zeros) -> bool:  # noqa: ANN001
        ok = np.isfinite(mins)
        if not ok.any() or np.nanmin(mins) < 0:
            return False
        if info is not None and info.family == "relu":
            return True
        # Observed ReLU-like: floored at exactly 0 with many zeros, yet active (an output that
        # is all zeros, e.g. a zero-initialised layer, says nothing about ReLUs).
        floor = trends.share(mins == 0, ok) >= self.params.relu_like
        active = trends.share(maxs > 0, ok) >= self.params.relu_like
        return floor and active and trends.level(zeros) >= 0.05

    def _judge(self, steps: np.ndarray, dead: np.ndarray) -> tuple[int, dict] | None:
        valid = np.isfinite(dead)
        d, s = dead[valid], steps[valid]
        if len(d) < self.params.min_steps:
            return None
        late = trends.level(d[len(d) // 2 :])
        if late < self.params.threshold:
            return None
        idx = trends.first_persistent(d >= self.params.threshold, 0.8)
        idx = 0 if idx is None else idx
        evidence = {
            "dead_frac": late,
            "initial_dead_frac": float(d[0]),
            "max_dead_frac": float(d.max()),
            "samples": int(len(d)),
        }
        return int(np.searchsorted(steps, s[idx])), evidence

    def _finding(self, name: str, step: int, ev: dict, feeder: str, fed: bool) -> Finding:
        from_start = ev["initial_dead_frac"] >= self.params.threshold
        if from_start:
            cause = "dead from the first step"
            suggestion = (
                f"initialise {feeder!r} with kaiming_normal_(nonlinearity='relu') and zero its "
                "bias (a large negative bias or a bad init kills units), or use LeakyReLU(0.01)"
            )
        else:
            cause = "units died during training"
            suggestion = (
                "lower the learning rate by 10x (large updates push units into the dead zone) "
                f"or use LeakyReLU(0.01) after {feeder!r}"
            )
        sev = "error" if ev["dead_frac"] >= self.params.error_at else "warning"
        units = f"ReLU units after {name!r}" if fed else f"ReLU units of {name!r}"
        message = (f"{ev['dead_frac']:.0%} of the {units} never activate "
                   f"({cause})")
        return self.finding(sev, name, step, message, ev, suggestion)
