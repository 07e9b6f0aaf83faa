"""Fused on-device statistics with one host transfer per sampled step.

Each tensor is reduced on its own device to a short *raw* vector (see :data:`RAW`) and, optionally,
a fixed-k histogram; nothing is read back per tensor. :class:`StepStats` collects the raw vectors
of one sampled step, moves them all to the CPU in one transfer and turns them into rows in
:data:`STAT_FIELDS` order.

Measured trade-off (see bench/overhead.py): ``sum`` / ``dot`` / ``count_nonzero`` / ``aminmax`` run
near memory speed, while ``std()`` and ``(x == 0).sum()`` are several times slower, so moments are
derived on the host from the sum and the sum of squares.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import torch

from deepscope.store.schema import STAT_FIELDS

#: Layout of a raw vector: count is kept on the host (exact integer).
RAW = ("sum", "sumsq", "min", "max", "zeros", "nonfinite", "dead", "saturated")
_R = {name: i for i, name in enumerate(RAW)}
_F = {name: i for i, name in enumerate(STAT_FIELDS)}
_NAN = float("nan")


def _flat(x: torch.Tensor) -> torch.Tensor:
    x = x.detach()
    if not x.is_floating_point():
        x = x.float()
    elif x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    return x.reshape(-1)


def raw_moments(
    x: torch.Tensor,
    *,
    unit_dim: int | None = None,
    bounds: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Raw vector of one tensor, on its device (no host sync).

    ``unit_dim`` asks for the share of units that are <= 0 over every other dimension (dead ReLU
    units); ``bounds`` for the share of elements within 1% of a bound (saturation).
    """
    flat = _flat(x)
    if flat.numel() == 0:
        return torch.full((len(RAW),), _NAN, device=flat.device)
    mn, mx = torch.aminmax(flat)
    parts = [
        flat.sum(),
        torch.dot(flat, flat),
        mn,
        mx,
        (flat.numel() - torch.count_nonzero(flat)).to(flat.dtype),
        # x - x is 0 for finite values and NaN for NaN/Inf: one cheap pass counts both.
        torch.count_nonzero(flat - flat).to(flat.dtype),
    ]
    parts.append(_dead_share(x, unit_dim) if unit_dim is not None else flat.new_tensor(_NAN))
    parts.append(_saturated_share(flat, bounds) if bounds is not None else flat.new_tensor(_NAN))
    return torch.stack(parts)


def _dead_share(x: torch.Tensor, unit_dim: int) -> torch.Tensor:
    x = x.detach()
    if x.dim() < 2:
        return torch.tensor(_NAN, device=x.device)
    dims = [d for d in range(x.dim()) if d != unit_dim % x.dim()]
    per_unit = x.float().amax(dim=dims)
    return (per_unit <= 0).float().mean()


def _saturated_share(flat: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    lo, hi = bounds
    margin = 0.01 * (hi - lo)
    return ((flat <= lo + margin) | (flat >= hi - margin)).float().mean()


def histogram(x: torch.Tensor, bins: int) -> torch.Tensor:
    """Fixed-k histogram between the tensor's own min and max, on device (no host sync).

    Non-finite values make the range NaN; such histograms are dropped on the host.
    """
    flat = _flat(x)
    if flat.numel() == 0:
        return torch.zeros(bins, device=flat.device)
    mn, mx = torch.aminmax(flat)
    width = (mx - mn).clamp_min(torch.finfo(flat.dtype).tiny)
    pos = torch.nan_to_num((flat - mn) * (bins / width), nan=0.0, posinf=0.0, neginf=0.0)
    idx = pos.clamp_(0, bins - 1).to(torch.int64)
    return torch.bincount(idx, minlength=bins).to(flat.dtype)


def unit_dim_for(x: torch.Tensor) -> int:
    """Channels for image-like outputs (N, C, H, W...), the last dim for (N, F) and (N, T, F)."""
    return 1 if x.dim() >= 4 else -1


Key = tuple[str, str]
StatRow = tuple[str, str, np.ndarray]
HistRow = tuple[str, str, float, float, np.ndarray]


@dataclass
class _Pending:
    count: int = 0
    raws: list[torch.Tensor] = field(default_factory=list)
    hist: torch.Tensor | None = None


class StepStats:
    """Statistics of one sampled step, keyed by ``(layer, kind)``; repeated calls merge."""

    def __init__(self, step: int, bins: int, histograms: bool):
        self.step = step
        self.bins = bins
        self.histograms = histograms
        self._pending: dict[tuple[str, str], _Pending] = defaultdict(_Pending)
        self._ratio: dict[str, tuple[str, str]] = {}

    def add(
        self,
        layer: str,
        kind: str,
        x: torch.Tensor,
        *,
        unit_dim: int | None = None,
        bounds: tuple[float, float] | None = None,
        hist: bool = True,
    ) -> None:
        """Reduce ``x`` on its device and keep the raw vector until :meth:`collect`."""
        p = self._pending[(layer, kind)]
        p.count += x.numel()
        p.raws.append(raw_moments(x, unit_dim=unit_dim, bounds=bounds))
        if hist and self.histograms and p.hist is None:
            p.hist = histogram(x, self.bins)

    def ratio(self, layer: str, numerator_kind: str, denominator_kind: str) -> None:
        """Fill ``update_ratio`` of ``(layer, numerator_kind)`` from the two norms."""
        self._ratio[layer] = (numerator_kind, denominator_kind)

    def add_missing(self, layer: str, kind: str) -> None:
        """Record that a layer's trainable parameters got no gradient (``count = 0``)."""
        self._pending.setdefault((layer, kind), _Pending())

    def __bool__(self) -> bool:
        return bool(self._pending)

    def collect(self) -> tuple[list[StatRow], list[HistRow]]:
        """One transfer per device; returns ``(stat rows, histogram rows)`` for the writer."""
        raws, hists = self._transfer()
        merged = {key: finalize(p.count, raws.get(key, [])) for key, p in self._pending.items()}
        for layer, (num, den) in self._ratio.items():
            if (layer, num) in merged and (layer, den) in merged:
                a, b = merged[(layer, num)][_F["norm"]], merged[(layer, den)][_F["norm"]]
                merged[(layer, num)][_F["update_ratio"]] = a / b if b > 0 else _NAN
        rows = [(layer, kind, vec) for (layer, kind), vec in merged.items()]
        hist_rows = []
        for (layer, kind), counts in hists.items():
            vec = merged[(layer, kind)]
            lo, hi = vec[_F["min"]], vec[_F["max"]]
            if vec[_F["nonfinite"]] == 0 and np.isfinite(lo) and np.isfinite(hi):
                hist_rows.append(
                    (layer, kind, float(lo), float(hi), np.rint(counts).astype(np.int64))
                )
        return rows, hist_rows

    def _transfer(self) -> tuple[dict[Key, list[np.ndarray]], dict[Key, np.ndarray]]:
        """Concatenate every device tensor of the step and copy it to the host once."""
        by_device: dict[torch.device, list[tuple[bool, Key, torch.Tensor]]] = defaultdict(list)
        for key, p in self._pending.items():
            for r in p.raws:
                by_device[r.device].append((True, key, r.double()))
            if p.hist is not None:
                by_device[p.hist.device].append((False, key, p.hist.double()))
        raws: dict[Key, list[np.ndarray]] = defaultdict(list)
        hists: dict[Key, np.ndarray] = {}
        for items in by_device.values():
            host = torch.cat([t.reshape(-1) for *_, t in items]).cpu().numpy()
            off = 0
            for is_raw, key, t in items:
                chunk = host[off : off + t.numel()]
                off += t.numel()
                if is_raw:
                    raws[key].append(chunk)
                else:
                    hists[key] = chunk
        return raws, hists


def finalize(count: int, raws: list[np.ndarray]) -> np.ndarray:
    """Merge raw vectors of one (layer, kind) and derive the :data:`STAT_FIELDS` vector."""
    out = np.full(len(STAT_FIELDS), _NAN)
    out[_F["count"]] = count
    if not raws or count == 0:
        return out
    r = np.stack(raws)
    total = r[:, _R["sum"]].sum()
    sumsq = r[:, _R["sumsq"]].sum()
    nonfinite = r[:, _R["nonfinite"]].sum()
    out[_F["nonfinite"]] = nonfinite
    out[_F["zero_frac"]] = r[:, _R["zeros"]].sum() / count
    dead, sat = r[:, _R["dead"]], r[:, _R["saturated"]]
    out[_F["dead_frac"]] = np.nanmean(dead) if np.isfinite(dead).any() else _NAN
    out[_F["saturated_frac"]] = np.nanmean(sat) if np.isfinite(sat).any() else _NAN
    if nonfinite > 0:
        return out
    mean = total / count
    var = max(sumsq / count - mean * mean, 0.0)
    out[_F["mean"]] = mean
    out[_F["std"]] = math.sqrt(var * count / (count - 1)) if count > 1 else 0.0
    out[_F["min"]] = r[:, _R["min"]].min()
    out[_F["max"]] = r[:, _R["max"]].max()
    out[_F["norm"]] = math.sqrt(sumsq)
    return out
