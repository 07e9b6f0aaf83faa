"""``loss_spikes``: isolated spikes of the training loss that recover."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepscope.diagnose.base import Finding, ScalarTrendRule
from deepscope.diagnose.metric_names import TRAIN_LOSS_TAGS
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader

#: MAD to standard deviation of a normal distribution.
_MAD_SIGMA = 1.4826
#: Longest raw series examined (the most recent points of a longer one).
MAX_POINTS = 200_000


@dataclass(frozen=True)
class Spike:
    """One spike: where, how high, above what, and how fast it came back."""

    step: int
    loss: float
    baseline: float
    z: float
    recovered_after: int


def find_spikes(steps: np.ndarray, values: np.ndarray, window: int, min_history: int,
                z: float, rise: float, recover: int, back_z: float, jump: float = 0.0
                ) -> list[Spike]:
    """Spikes of a raw loss series: robust z-score over the trailing ``window`` points.

    A point is a spike when it lies ``z`` robust standard deviations (1.4826 x MAD), ``rise``
    (relative) and ``jump`` (absolute) above the median of the ``window`` points before it, and
    the loss comes back within ``back_z`` robust deviations of that median in at most
    ``recover`` points.
    Consecutive spike points are one spike (its highest point).

    Example:
        >>> v = np.r_[np.linspace(3, 2, 60), 6.0, np.linspace(2, 1.9, 20)]
        >>> [s.step for s in find_spikes(np.arange(len(v)), v, 50, 20, 6.0, 0.3, 10, 3.0)]
        [60]

    """
    n = len(values)
    if n <= min_history:
        return []
    x = values.astype(float)
    pad = np.r_[np.full(window, np.nan), x[:-1]]
    # windows[t]: the (up to) ``window`` points before t; t < min_history cannot be judged.
    windows = np.lib.stride_tricks.sliding_window_view(pad, window)[min_history:]
    counts = np.sum(np.isfinite(windows), axis=1)
    med = np.full(n, np.nan)
    mad = np.full(n, np.nan)
    med[min_history:] = np.nanmedian(windows, axis=1)
    mad[min_history:] = np.nanmedian(np.abs(windows - med[min_history:, None]), axis=1)
    scale = np.maximum(mad * _MAD_SIGMA, 1e-3 * np.abs(med) + 1e-12)
    with np.errstate(invalid="ignore"):
        score = (x - med) / scale
        ok = np.zeros(n, bool)
        ok[min_history:] = counts >= min_history
        cand = np.flatnonzero(ok & (score >= z) & (x >= med * (1 + rise)) & (x - med >= jump))
    spikes: list[Spike] = []
    last = -2
    for t in cand:
        if t == last + 1 and spikes:  # the same spike, one point later
            last = t
            if x[t] > spikes[-1].loss:
                spikes[-1] = Spike(int(steps[t]), float(x[t]), spikes[-1].baseline,
                                   float(score[t]), spikes[-1].recovered_after)
            continue
        last = t
        after = x[t + 1 : t + 1 + recover]
        back = np.flatnonzero(after <= med[t] + back_z * scale[t])
        if len(back):
            spikes.append(Spike(int(steps[t]), float(x[t]), float(med[t]), float(score[t]),
                                int(back[0]) + 1))
    return spikes


def _log_z(steps: np.ndarray, values: np.ndarray, step: int, window: int) -> float:
    """Robust z-score of the loss at ``step`` in log space: near convergence batch losses vary
    by factors (a fine-tuned model's 0.008 batch next to a 0.06 one), a bad batch by far more
    than its neighbours do.
    """
    i = int(np.searchsorted(steps, step))
    before = np.log(np.maximum(values[max(0, i - window) : i], 1e-12))
    if not len(before) or values[i] <= 0:
        return 0.0
    med = float(np.median(before))
    mad = float(np.median(np.abs(before - med))) * _MAD_SIGMA
    return (float(np.log(values[i])) - med) / max(mad, 1e-12)


class LossSpikes(ScalarTrendRule):
    """Isolated spikes of the training loss that recover, and the layers whose gradients jumped.

    Reads the raw training loss (``train/loss``, ``train_loss``, ``loss``: every point, not block
    medians). A spike is a point ``z`` robust standard deviations (1.4826 x MAD of the trailing
    ``window`` points) and ``rise`` above their median after which the loss comes back within
    ``back_z`` deviations in at most ``recover`` points: the signature of a bad batch or of an
    update too large for the curvature (Lightning's ``SpikeDetection`` stops training on them;
    Chowdhery et al. 2022, PaLM, restart before them and skip batches). A loss that stays up is
    ``loss_oscillation``. Measured on the healthy scenarios (MLP, CNN, LSTM, GPT-2, BERT, 3
    seeds): the largest robust z-score of any point is ~5 (minibatch noise); the injected bad
    batches of the spike scenarios score 15 and more.
    Where a spike fell on a sampled step, the layers whose gradient norm was ``grad_jump`` times
    their median of the previous sampled steps are named (with ``every=1`` every spike is).
    Evidence: ``spikes`` (step, loss, baseline, z, recovered_after, layers), ``count``, ``tag``.
    Suggestion: warm-up, clipping, lower Adam beta2, skip the batch.

    Example:
        >>> LossSpikes.Params().z
        8.0

    """

    code = "loss_spikes"

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            window: trailing points the median and MAD come from.
            min_history: points of history needed before a point can be a spike.
            z: robust z-score of a spike (healthy runs stay below ~5).
            rise: the spike must also lie this share above the trailing median.
            min_jump: the spike must also rise this share of the initial loss in absolute terms
                (a loss near 0 has tiny, relatively large blips).
            log_z: the spike's robust z-score of the log loss must reach this too: near
                convergence batch losses vary by factors (measured: healthy runs at most 4.6, a
                wine MLP at 0.015 jumping to 0.48 scores 2.8; the bad batches of the GPT-2 and
                BERT scenarios 6.7-10).
            recover: points within which the loss must come back (else it is not isolated).
            back_z: coming back means within this many robust deviations of the median.
            grad_jump: a layer's gradient norm at the spike / its median before, to be named.
            min_points: loss points needed.

        """

        window: int = 50
        min_history: int = 20
        z: float = 8.0
        rise: float = 0.3
        min_jump: float = 0.05
        log_z: float = 5.5
        recover: int = 20
        back_z: float = 4.0
        grad_jump: float = 3.0
        min_points: int = 40

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        found = self._raw_loss(view)
        if found is None:
            return []
        tag, steps, values = found
        p = self.params
        initial = float(np.median(values[: max(1, len(values) // 10)]))
        spikes = find_spikes(steps, values, p.window, p.min_history, p.z, p.rise, p.recover,
                             p.back_z, p.min_jump * initial)
        spikes = [s for s in spikes if _log_z(steps, values, s.step, p.window) >= p.log_z]
        if not spikes:
            return []
        jumps = self._gradient_jumps(view, [s.step for s in spikes])
        rows = [{"step": s.step, "loss": s.loss, "baseline": s.baseline, "z": s.z,
                 "recovered_after": s.recovered_after, "sampled": s.step in jumps,
                 "layers": jumps.get(s.step, [])} for s in spikes]
        named = next((r for r in rows if r["layers"]), None)
        layer = named["layers"][0]["layer"] if named else None
        first = spikes[0]
        where = ", ".join(str(s.step) for s in spikes[:8]) + (" ..." if len(spikes) > 8 else "")
        message = (f"{tag} spiked {len(spikes)} time(s) and recovered (steps {where}); the first "
                   f"went from {first.baseline:.4g} to {first.loss:.4g} ({first.z:.0f} robust "
                   "standard deviations)")
        if named:
            names = ", ".join(repr(d["layer"]) for d in named["layers"][:3])
            message += f"; at step {named['step']} the gradients of {names} jumped"
        elif not any(r["sampled"] for r in rows):
            message += ("; no spike fell on a sampled step (run.watch(model, every=1) names "
                        "the layers whose gradients jumped)")
        evidence = {"tag": tag, "count": len(spikes), "spikes": rows[:20]}
        suggestion = ("add a learning-rate warm-up and clip gradients at 1.0 "
                      "(torch.nn.utils.clip_grad_norm_); with Adam lower beta2 to 0.95; skip "
                      "batches whose loss is far above the running median")
        return [self.finding("warning", layer, first.step, message, evidence, suggestion)]

    def _raw_loss(self, view: RunView) -> tuple[str, np.ndarray, np.ndarray] | None:
        present = set(view.scalar_tags())
        tag = next((t for t in TRAIN_LOSS_TAGS if t in present), None)
        if tag is None:
            return None
        s = view.scalars(tag)
        bad = np.flatnonzero(~np.isfinite(s.values))
        end = int(bad[0]) if len(bad) else len(s.values)
        steps, values = s.steps[:end][-MAX_POINTS:], s.values[:end][-MAX_POINTS:]
        if len(values) < self.params.min_points:
            return None
        return tag, steps, values

    def _gradient_jumps(self, view: RunView, steps: list[int]) -> dict[int, list[dict[str, Any]]]:
        """Per spike on a sampled step: layers whose gradient norm jumped, largest first."""
        if not view.has("grad"):
            return {}
        m = view.stat_matrix("grad", "norm")
        out: dict[int, list[dict[str, Any]]] = {}
        for step in steps:
            hit = np.flatnonzero(m.steps == step)
            if not len(hit) or hit[0] < 2:
                continue
            j = int(hit[0])
            with np.errstate(all="ignore"):
                before = np.nanmedian(m.values[:, max(0, j - 5) : j], axis=1)
                ratio = m.values[:, j] / before
            order = [i for i in np.argsort(-np.nan_to_num(ratio, nan=0.0))
                     if ratio[i] >= self.params.grad_jump]
            out[step] = [{"layer": m.layers[i], "ratio": float(ratio[i])} for i in order[:5]]
        return out
