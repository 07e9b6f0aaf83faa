"""``unnormalized_inputs``: model inputs far from unit scale (raw pixels, un-scaled features)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from deepscope.diagnose import trends
from deepscope.diagnose.base import Finding, Rule
from deepscope.diagnose.view import RunView, as_view
from deepscope.store.reader import RunReader


def input_levels(view: RunView) -> dict[str, float] | None:
    """Median mean / std / rms / min / max of the root input over the finite sampled steps."""
    if not view.has("input"):
        return None
    m = {f: view.stat_matrix("input", f) for f in ("mean", "std", "norm", "count", "min", "max")}
    if not m["norm"].layers:
        return None
    keep = m["norm"].steps < view.horizon()
    if not keep.any():
        return None
    row = {f: mat.values[0, keep] for f, mat in m.items()}
    out = {f: trends.level(v) for f, v in row.items() if f != "norm"}
    out["rms"] = trends.level(trends.rms(row["norm"], row["count"]))
    out["layer"] = m["norm"].layers[0]  # type: ignore[assignment]
    out["first_step"] = int(m["norm"].steps[keep][0])  # type: ignore[assignment]
    return out


def input_is_unnormalized(view: RunView, params: UnnormalizedInputs.Params | None = None) -> bool:
    """Whether the root input breaks the thresholds of :class:`UnnormalizedInputs`."""
    lv = input_levels(view)
    return lv is not None and bool(_verdict(lv, params or UnnormalizedInputs.Params()))


def _verdict(lv: dict[str, float], p: UnnormalizedInputs.Params) -> str | None:
    rms, mean, std = lv["rms"], lv["mean"], lv["std"]
    if not np.isfinite(rms):
        return None
    if rms > p.max_rms:
        return f"inputs have a root-mean-square of {rms:.3g} (unit scale is ~1)"
    if 0 < rms < p.min_rms:
        return f"inputs are tiny: root-mean-square {rms:.3g}"
    if std > 0 and abs(mean) / std > p.max_offset:
        return f"inputs are far from centred: mean {mean:.3g} is {abs(mean) / std:.0f}x their std"
    return None


def _normalises_itself(view: RunView) -> bool:
    """The first trainable layer is a normalisation layer (BatchNorm1d on raw features)."""
    first = next((i for i in view.layers() if i.trainable_params > 0), None)
    return first is not None and "Norm" in first.type


class UnnormalizedInputs(Rule):
    """Model inputs far from unit scale.

    Mechanism: the root module's first floating input is summarised at every sampled step; the
    rule takes the median over steps of its root-mean-square, mean and std. Standardised data has
    rms = 1, images in [0, 1] or [-1, 1] about 0.3-0.6; raw pixels (0-255) reach ~100, raw
    tabular features (breast cancer, wine) hundreds. LeCun et al., "Efficient BackProp" (1998):
    inputs should be centred with unit variance. A model whose first layer is a normalisation
    layer (BatchNorm on the raw features) standardises its own input and is skipped.
    Evidence: ``rms``, ``mean``, ``std``, ``min``, ``max``. Suggestion: standardise with the
    training-set statistics.

    Example:
        >>> UnnormalizedInputs.Params().max_rms
        5.0

    """

    code = "unnormalized_inputs"
    requires = ("input",)
    live = True
    min_live_steps = 3

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            max_rms: root-mean-square above which inputs are too large (raw 0-16 digits: ~7.6;
                raw pixels ~100; standardised: 1).
            min_rms: root-mean-square below which inputs are too small (sparse one-hot rows of
                10,000 features have 0.01).
            max_offset: |mean| / std above which inputs are not centred.

        """

        max_rms: float = 5.0
        min_rms: float = 1e-3
        max_offset: float = 10.0

    def check(self, reader: RunReader) -> Iterable[Finding]:
        view = as_view(reader)
        lv = input_levels(view)
        if lv is None or _normalises_itself(view):
            return []
        why = _verdict(lv, self.params)
        if why is None:
            return []
        layer = str(lv.pop("layer"))
        step = int(lv.pop("first_step"))
        suggestion = (
            "standardise the inputs with training-set statistics: x = (x - mean) / std "
            "(sklearn StandardScaler, or transforms.Normalize); divide raw pixels by 255"
        )
        return [self.finding("warning", layer, step, why, lv, suggestion)]
