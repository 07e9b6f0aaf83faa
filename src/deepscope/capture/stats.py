"""On-device statistics with one host transfer per sampled step.

What a sampled step reads must be taken when it is seen: a later in-place op (``ReLU(inplace)``
after a Linear, ``optimizer.step()`` on the weights, ``zero_grad(set_to_none=False)``) would
change it. So each tensor is reduced, or copied if small, in :meth:`StepStats.add`.

Costs measured on the CPU (``bench/overhead.py``; per million float32 elements): ``sum`` 0.09 ms,
``dot`` 0.12 ms, ``aminmax`` 0.16 ms, ``count_nonzero`` 0.6 ms, a numpy histogram 3.7 ms and
``torch.histc`` 15 ms. So:

* **Large tensors** (>= :data:`LARGE` elements): the sum, the sum of squares (``dot``), min and
  max are exact, one pass each at memory speed; the zero share and the histogram come from a
  fixed stratified sample of :data:`SAMPLE` elements (scaled to the tensor's size). A histogram
  of 32,768 draws per 64 bins has ~1-2 % noise in its well-filled bins.
* **Small tensors on the CPU** (most layers of small models): per-call costs dominate (a torch op
  costs microseconds, a numpy call a fraction of that), so each is copied to a float64 numpy array
  and reduced with numpy when the step ends, exactly.
* **Small tensors elsewhere** (an accelerator): copied on their device and reduced together with
  segment ops and one ``bincount``, about twenty device ops for the whole step, exactly.

Results on an accelerator stay there until the step's single transfer. :meth:`StepStats.collect`
returns rows in :data:`STAT_FIELDS` order and histograms with their own bin range.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from deepscope.store.schema import STAT_FIELDS

#: Raw vector layout (the element count is kept on the host as an exact integer).
RAW = ("sum", "sumsq", "min", "max", "zeros", "nonfinite")
_R = {name: i for i, name in enumerate(RAW)}
_F = {name: i for i, name in enumerate(STAT_FIELDS)}
_NAN = float("nan")
#: Tensors with at least this many elements are reduced on their own (memory-bound regime).
LARGE = 1 << 16
#: Elements drawn from a large tensor for its zero share and histogram.
SAMPLE = 1 << 15

Key = tuple[str, str]
StatRow = tuple[str, str, np.ndarray]
HistRow = tuple[str, str, float, float, np.ndarray]
#: A histogram before the transfer: counts (already scaled) followed by its lo and hi.
_Hist = torch.Tensor | np.ndarray

_SAMPLE_INDEX: dict[tuple[int, str], torch.Tensor] = {}


def sample_index(n: int, device: torch.device) -> torch.Tensor:
    """A fixed stratified sample of :data:`SAMPLE` positions in ``range(n)`` (one per stratum,
    at a seeded random offset: no aliasing with row lengths, the same positions every step).
    """
    key = (n, str(device))
    idx = _SAMPLE_INDEX.get(key)
    if idx is None:
        g = torch.Generator().manual_seed(n)
        stride = n / SAMPLE
        pos = torch.arange(SAMPLE, dtype=torch.float64) + torch.rand(SAMPLE, generator=g,
                                                                     dtype=torch.float64)
        idx = (pos * stride).long().clamp_(max=n - 1).to(device)
        if len(_SAMPLE_INDEX) > 512:
            _SAMPLE_INDEX.clear()
        _SAMPLE_INDEX[key] = idx
    return idx


def _flat(x: torch.Tensor) -> torch.Tensor:
    x = x.detach()
    if x.dtype != torch.float32 and x.dtype != torch.float64:
        x = x.float()
    return x.reshape(-1)


def host_copy(tensors: Sequence[torch.Tensor]) -> np.ndarray:
    """One flat float64 copy of small CPU tensors (bf16/fp16 go through float32)."""
    parts = []
    for x in tensors:
        x = x.detach()
        if x.dtype is not torch.float32 and x.dtype is not torch.float64:
            x = x.float()
        parts.append(x.reshape(-1).numpy())
    if len(parts) == 1:
        return parts[0].astype(np.float64)
    return np.concatenate(parts, dtype=np.float64)


def _host_hist(a: np.ndarray, bins: int, lo: float, hi: float, scale: float = 1.0) -> np.ndarray:
    """Counts of ``a`` in ``bins`` equal bins over ``[lo, hi]``, then ``[lo, hi]`` appended."""
    if hi > lo:
        t = a - lo
        t *= bins / (hi - lo)
        idx = t.astype(np.intp)
        np.clip(idx, 0, bins - 1, out=idx)
        counts = np.bincount(idx, minlength=bins).astype(np.float64)
    else:
        counts = np.zeros(bins)
        counts[0] = a.size
    return np.concatenate([counts * scale, [lo, hi]])


def _device_hist(x: torch.Tensor, bins: int, lo: torch.Tensor, hi: torch.Tensor,
                 scale: float = 1.0) -> torch.Tensor:
    width = (hi - lo).clamp_min(torch.finfo(x.dtype).tiny)
    pos = torch.nan_to_num((x - lo) * (bins / width), nan=0.0, posinf=0.0, neginf=0.0)
    counts = torch.bincount(pos.clamp_(0, bins - 1).to(torch.int64), minlength=bins)
    return torch.cat([counts.to(x.dtype) * scale, torch.stack([lo, hi]).to(x.dtype)])


def raw_large(
    flat: torch.Tensor, bins: int | None
) -> tuple[torch.Tensor | np.ndarray, _Hist | None]:
    """Raw vector (and histogram) of one large tensor: numpy on the CPU, device tensors else."""
    n = flat.numel()
    sample = flat.index_select(0, sample_index(n, flat.device))
    scale = n / sample.numel()
    if flat.device.type == "cpu":
        s, ss = flat.sum().item(), torch.dot(flat, flat).item()
        mn, mx = (v.item() for v in torch.aminmax(flat))
        ok = math.isfinite(s + ss)
        zeros = (sample.numel() - int(torch.count_nonzero(sample))) * scale
        bad = 0 if ok else int((~torch.isfinite(flat)).sum())
        hist = _host_hist(sample.numpy(), bins, mn, mx, scale) if bins and ok else None
        return np.array([s, ss, mn, mx, zeros, bad]), hist
    mn, mx = torch.aminmax(flat)
    raw = torch.stack([
        flat.sum(),
        torch.dot(flat, flat),
        mn,
        mx,
        (sample.numel() - torch.count_nonzero(sample)).to(flat.dtype) * scale,
        # x - x is 0 for finite values and NaN for NaN/Inf: one cheap pass counts both.
        torch.count_nonzero(flat - flat).to(flat.dtype),
    ])
    return raw, (_device_hist(sample, bins, mn, mx, scale) if bins else None)


def raw_sample(sample: torch.Tensor, population: int, bins: int | None
               ) -> tuple[torch.Tensor | np.ndarray, _Hist | None]:
    """Raw vector (and histogram) of a tensor known only by a sample of it (scaled up)."""
    f = population / sample.numel()
    if sample.device.type == "cpu":
        a = sample.numpy().astype(np.float64)
        with np.errstate(all="ignore"):
            s, ss, mn, mx = a.sum(), a.dot(a), a.min(), a.max()
            ok = bool(np.isfinite(s + ss))
            bad = 0 if ok else int((~np.isfinite(a)).sum())
        zeros = a.size - np.count_nonzero(a)
        raw = np.array([s * f, ss * f, mn, mx, zeros * f, bad * f])
        return raw, (_host_hist(a, bins, mn, mx, f) if bins and ok else None)
    mn, mx = torch.aminmax(sample)
    raw = torch.stack([sample.sum() * f, torch.dot(sample, sample) * f, mn, mx,
                       (sample.numel() - torch.count_nonzero(sample)).to(sample.dtype) * f,
                       torch.count_nonzero(sample - sample).to(sample.dtype) * f])
    return raw, (_device_hist(sample, bins, mn, mx, f) if bins else None)


def dead_share(x: torch.Tensor, unit_dim: int) -> torch.Tensor:
    """Share of units that are <= 0 over every other dimension (whole batch)."""
    x = x.detach()
    if x.dim() < 2:
        return torch.tensor(_NAN, device=x.device)
    dims = [d for d in range(x.dim()) if d != unit_dim % x.dim()]
    return (x.float().amax(dim=dims) <= 0).float().mean()


def saturated_share(x: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    """Share of elements within 1% (of the range) of either bound."""
    lo, hi = bounds
    margin = 0.01 * (hi - lo)
    flat = x.detach().reshape(-1)
    return ((flat <= lo + margin) | (flat >= hi - margin)).float().mean()


def _dead_host(a: np.ndarray, shape: torch.Size, unit_dim: int) -> float:
    if len(shape) < 2:
        return _NAN
    dim = unit_dim % len(shape)
    if dim == len(shape) - 1:  # (N, F) and (N, T, F): units are the last dimension
        peak = a.reshape(-1, shape[-1]).max(axis=0)
    else:
        units = np.moveaxis(a.reshape(tuple(shape)), dim, 0)
        peak = units.reshape(units.shape[0], -1).max(axis=1)
    return float((peak <= 0).mean())


def _saturated_host(a: np.ndarray, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    margin = 0.01 * (hi - lo)
    return float(((a <= lo + margin) | (a >= hi - margin)).mean())


def unit_dim_for(x: torch.Tensor) -> int:
    """Channels for image-like outputs (N, C, H, W...), the last dim for (N, F) and (N, T, F)."""
    return 1 if x.dim() >= 4 else -1


@dataclass
class _Pending:
    count: int = 0
    raws: list[torch.Tensor | np.ndarray] = field(default_factory=list)
    extras: list[torch.Tensor | tuple[float, float]] = field(default_factory=list)
    hist: _Hist | None = None
    hist_taken: bool = False


class StepStats:
    """Statistics of one sampled step, keyed by ``(layer, kind)``; repeated calls merge.

    Example:
        >>> import torch
        >>> s = StepStats(step=0, bins=8, histograms=True)
        >>> s.add("fc", "weight", torch.ones(3, 4))
        >>> (rows, hists) = s.collect()
        >>> rows[0][2][:3].tolist(), hists[0][4].sum()
        ([12.0, 1.0, 0.0], np.int64(12))

    """

    def __init__(self, step: int, bins: int, histograms: bool):
        self.step = step
        self.bins = bins
        self.histograms = histograms
        self._pending: dict[Key, _Pending] = defaultdict(_Pending)
        self._ratio: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._probes: dict[str, torch.Tensor] = {}
        # Small tensors: (key, host float64 copy, wants a histogram) on the CPU; device copies
        # elsewhere, per device.
        self._host: list[tuple[Key, np.ndarray, bool]] = []
        self._device: dict[torch.device, list[tuple[Key, torch.Tensor, bool]]] = defaultdict(list)
        #: Host values of :meth:`probe` tensors, filled by :meth:`collect`.
        self.probes: dict[str, np.ndarray] = {}

    def __contains__(self, key: Key) -> bool:
        return key in self._pending

    def _want_hist(self, p: _Pending, hist: bool) -> bool:
        """Only the first tensor of a key gets a histogram (a shared module's first call)."""
        want = hist and self.histograms and not p.hist_taken
        p.hist_taken = True
        return want

    def add(
        self,
        layer: str,
        kind: str,
        xs: torch.Tensor | Sequence[torch.Tensor],
        *,
        unit_dim: int | None = None,
        bounds: tuple[float, float] | None = None,
        hist: bool = True,
    ) -> None:
        """Record one tensor (or the parameters of one layer) for ``(layer, kind)``."""
        tensors = [xs] if isinstance(xs, torch.Tensor) else list(xs)
        tensors = [t for t in tensors if t.numel() > 0]
        if not tensors:
            return
        key = (layer, kind)
        p = self._pending[key]
        total = sum(t.numel() for t in tensors)
        p.count += total
        want_hist = self._want_hist(p, hist)
        if total < LARGE and tensors[0].device.type == "cpu":
            self._add_host(key, p, tensors, want_hist, unit_dim, bounds)
            return
        if unit_dim is not None or bounds is not None:
            x = tensors[0]
            dead = dead_share(x, unit_dim) if unit_dim is not None else x.new_tensor(_NAN).float()
            sat = saturated_share(x, bounds) if bounds is not None else x.new_tensor(_NAN).float()
            p.extras.append(torch.stack([dead.float(), sat.float()]))
        if len(tensors) > 1 and total < LARGE:
            tensors = [torch.cat([_flat(t) for t in tensors])]  # cheap for small parameter sets
        # The histogram of a multi-tensor key covers its largest tensor (e.g. weight, not bias).
        hist_of = max(range(len(tensors)), key=lambda i: tensors[i].numel())
        for i, t in enumerate(tensors):
            flat = _flat(t)
            mine = want_hist and i == hist_of
            if flat.numel() >= LARGE:
                raw, h = raw_large(flat, self.bins if mine else None)
                p.raws.append(raw)
                p.hist = h if h is not None else p.hist
            elif flat.device.type == "cpu":
                self._host.append((key, host_copy([flat]), mine))
            else:
                self._device[flat.device].append((key, flat.clone(), mine))

    def _add_host(
        self,
        key: Key,
        p: _Pending,
        tensors: list[torch.Tensor],
        want_hist: bool,
        unit_dim: int | None,
        bounds: tuple[float, float] | None,
    ) -> None:
        a = host_copy(tensors)
        self._host.append((key, a, want_hist))
        if unit_dim is not None or bounds is not None:
            n0 = tensors[0].numel()
            dead = _dead_host(a[:n0], tensors[0].shape, unit_dim) if unit_dim is not None \
                else _NAN
            sat = _saturated_host(a[:n0], bounds) if bounds is not None else _NAN
            p.extras.append((dead, sat))

    def add_array(self, layer: str, kind: str, a: np.ndarray, *, hist: bool = True) -> None:
        """Record a flat float64 host array the caller made (e.g. an update ``after - before``)."""
        if a.size == 0:
            return
        p = self._pending[(layer, kind)]
        p.count += a.size
        self._host.append(((layer, kind), a, self._want_hist(p, hist)))

    def add_sample(self, layer: str, kind: str, sample: torch.Tensor, population: int) -> None:
        """Record a tensor of ``population`` elements from a sample of it (statistics scaled)."""
        if sample.numel() == 0:
            return
        p = self._pending[(layer, kind)]
        p.count += population
        raw, h = raw_sample(_flat(sample), population,
                            self.bins if self._want_hist(p, True) else None)
        p.raws.append(raw)
        p.hist = h if h is not None else p.hist

    def probe(self, key: str, value: torch.Tensor) -> None:
        """Bring a small device tensor to the host with this step's one transfer (checks)."""
        self._probes[key] = value.detach().reshape(-1)

    def ratio(self, layer: str, numerator_kind: str, *denominator_kinds: str) -> None:
        """Fill ``update_ratio`` of ``(layer, numerator_kind)`` with the first present norm."""
        self._ratio[layer] = (numerator_kind, denominator_kinds)

    def add_missing(self, layer: str, kind: str) -> None:
        """Record that a layer's trainable parameters got no gradient (``count = 0``)."""
        self._pending.setdefault((layer, kind), _Pending())

    def drop(self, kind: str) -> None:
        """Forget every row of ``kind`` recorded so far (gradients read too early)."""
        for key in [k for k in self._pending if k[1] == kind]:
            del self._pending[key]
        self._host = [h for h in self._host if h[0][1] != kind]
        for items in self._device.values():
            items[:] = [d for d in items if d[0][1] != kind]

    def __bool__(self) -> bool:
        return bool(self._pending) or bool(self._probes)

    # -- the end of the step ----------------------------------------------------------------
    def collect(self) -> tuple[list[StatRow], list[HistRow]]:
        """Reduce the small tensors, copy to the host once per device, derive rows."""
        raws, hists, extras = self._transfer()
        for key, raw, h in _reduce_host(self._host, self.bins):
            raws[key].append(raw)
            if h is not None:
                hists[key] = h
        keys = list(self._pending)
        merged = finalize_many(
            [self._pending[k].count for k in keys],
            [raws.get(k, []) for k in keys],
            [_extras_of(self._pending[k], extras.get(k)) for k in keys],
        )
        index = {k: i for i, k in enumerate(keys)}
        for layer, (num, dens) in self._ratio.items():
            den = next((merged[index[(layer, d)]] for d in dens if (layer, d) in index), None)
            if (layer, num) in index and den is not None:
                a, b = merged[index[(layer, num)], _F["norm"]], den[_F["norm"]]
                merged[index[(layer, num)], _F["update_ratio"]] = a / b if b > 0 else _NAN
        rows = [(layer, kind, merged[i]) for i, (layer, kind) in enumerate(keys)]
        hist_rows = []
        for key, h in hists.items():
            lo, hi = float(h[-2]), float(h[-1])
            if key in index and merged[index[key], _F["nonfinite"]] == 0 and \
                    math.isfinite(lo) and math.isfinite(hi):
                hist_rows.append((*key, lo, hi, _whole_counts(h[:-2])))
        return rows, hist_rows

    def _outgoing(self) -> dict[torch.device, list[tuple[str, Key, torch.Tensor]]]:
        """Everything still on a device, grouped per device (small tensors reduced first)."""
        outgoing: dict[torch.device, list[tuple[str, Key, torch.Tensor]]] = defaultdict(list)
        for key, t in self._probes.items():
            outgoing[t.device].append(("probe", (key, ""), t.double()))
        for key, p in self._pending.items():
            for r in p.raws:
                if isinstance(r, torch.Tensor):
                    outgoing[r.device].append(("raw", key, r.double()))
            if isinstance(p.hist, torch.Tensor):
                outgoing[p.hist.device].append(("hist", key, p.hist.double()))
            dev_extras = [e for e in p.extras if isinstance(e, torch.Tensor)]
            if dev_extras:
                outgoing[dev_extras[0].device].append(
                    ("extra", key, torch.stack(dev_extras).double())
                )
        for device, items in self._device.items():
            if items:
                mat, counts = _reduce_small([f for _, f, _ in items], [h for *_, h in items],
                                            self.bins)
                outgoing[device].append(("smallraw", ("", ""), mat.double()))
                if counts is not None:
                    outgoing[device].append(("smallhist", ("", ""), counts.double()))
        return outgoing

    def _transfer(self) -> tuple[dict[Key, list[np.ndarray]], dict[Key, np.ndarray], dict]:
        """One host copy per device; returns raws, histograms and dead/saturation extras."""
        raws: dict[Key, list[np.ndarray]] = defaultdict(list)
        hists: dict[Key, np.ndarray] = {}
        extras: dict[Key, np.ndarray] = {}
        for key, p in self._pending.items():
            raws[key].extend(r for r in p.raws if isinstance(r, np.ndarray))
            if isinstance(p.hist, np.ndarray):
                hists[key] = p.hist
        for device, items in self._outgoing().items():
            host = torch.cat([t.reshape(-1) for *_, t in items]).cpu().numpy()
            off = 0
            batched: dict[str, np.ndarray] = {}
            for what, key, t in items:
                chunk = host[off : off + t.numel()].reshape(t.shape)
                off += t.numel()
                if what == "raw":
                    raws[key].append(chunk)
                elif what == "probe":
                    self.probes[key[0]] = chunk
                elif what in ("hist", "extra"):
                    (hists if what == "hist" else extras)[key] = chunk
                else:
                    batched[what] = chunk
            self._unpack_small(device, batched, raws, hists)
        return raws, hists, extras

    def _unpack_small(self, device: torch.device, batched: dict[str, np.ndarray],
                      raws: dict[Key, list[np.ndarray]], hists: dict[Key, np.ndarray]) -> None:
        if "smallraw" not in batched:
            return
        hist_rows = iter(batched.get("smallhist", ()))
        for (key, _, want), raw in zip(self._device[device], batched["smallraw"], strict=True):
            raws[key].append(raw)
            if want:
                hists[key] = np.concatenate([next(hist_rows), raw[[_R["min"], _R["max"]]]])


def _whole_counts(counts: np.ndarray) -> np.ndarray:
    """Integer counts with the same total (largest remainders round up): a scaled sample's
    histogram still sums to the tensor's element count.
    """
    floor = np.floor(counts)
    short = int(round(counts.sum() - floor.sum()))
    if short > 0:
        floor[np.argsort(floor - counts)[:short]] += 1
    return floor.astype(np.int64)


def _extras_of(p: _Pending, device_extras: np.ndarray | None) -> np.ndarray | None:
    host = [e for e in p.extras if isinstance(e, tuple)]
    parts = [np.asarray(host, dtype=np.float64)] if host else []
    if device_extras is not None and len(device_extras):
        parts.append(device_extras.reshape(-1, 2))
    return np.concatenate(parts) if parts else None


def _reduce_host(
    items: list[tuple[Key, np.ndarray, bool]], bins: int
) -> list[tuple[Key, np.ndarray, np.ndarray | None]]:
    """Raw vectors (and histograms) of small host arrays: five fast numpy passes each.

    Measured against one vectorised ``reduceat``/``bincount`` over their concatenation: this
    loop is ~6x faster (the gathers and temporaries of the vectorised form cost more than the
    ~1 us per call saved).
    """
    out = []
    with np.errstate(all="ignore"):
        for key, a, want in items:
            s, ss = a.sum(), a.dot(a)
            mn, mx = a.min(), a.max()
            zeros = a.size - np.count_nonzero(a)
            bad = 0 if np.isfinite(s + ss) else int((~np.isfinite(a)).sum())
            h = _host_hist(a, bins, float(mn), float(mx)) if want and not bad else None
            out.append((key, np.array([s, ss, mn, mx, zeros, bad]), h))
    return out


def _reduce_small(
    flats: list[torch.Tensor], want_hist: list[bool], bins: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Raw vectors (K, 6) and histograms (H, bins) of K small device tensors in ~20 ops."""
    dev = flats[0].device
    k = len(flats)
    sizes = torch.tensor([f.numel() for f in flats], device=dev)
    flat = torch.cat([f.float() for f in flats])
    seg = torch.repeat_interleave(torch.arange(k, device=dev), sizes)

    # Contiguous segments: segment_reduce sums ~4x faster than index_add (measured on the CPU);
    # scatter_reduce is the faster of the two for min/max.
    def seg_sum(values: torch.Tensor) -> torch.Tensor:
        return torch.segment_reduce(values, "sum", lengths=sizes)

    s, ss = seg_sum(flat), seg_sum(flat * flat)
    mn = torch.full((k,), math.inf, device=dev).scatter_reduce(0, seg, flat, "amin")
    mx = torch.full((k,), -math.inf, device=dev).scatter_reduce(0, seg, flat, "amax")
    nz = seg_sum((flat == 0).float())
    bad = seg_sum((~torch.isfinite(flat)).float())
    raw = torch.stack([s, ss, mn, mx, nz, bad], dim=1)
    if not any(want_hist):
        return raw, None
    sel = torch.tensor(want_hist, device=dev)
    width = (mx - mn).clamp_min(torch.finfo(torch.float32).tiny)
    pos = torch.nan_to_num((flat - mn[seg]) * (bins / width[seg]), nan=0.0, posinf=0.0, neginf=0.0)
    idx = pos.clamp_(0, bins - 1).to(torch.int64) + seg * bins
    counts = torch.bincount(idx, minlength=k * bins).reshape(k, bins)
    return raw, counts[sel]


def finalize_many(
    counts: list[int], raws: list[list[np.ndarray]], extras: list[np.ndarray | None]
) -> np.ndarray:
    """:data:`STAT_FIELDS` vectors (K, fields) of K keys, each merging its raw vectors."""
    out = np.full((len(counts), len(STAT_FIELDS)), _NAN)
    out[:, _F["count"]] = counts
    with np.errstate(all="ignore"):  # NaN/Inf in a diverged step: counted, moments blanked
        for i, ex in enumerate(extras):
            if ex is not None and len(ex):
                for name, col in (("dead_frac", 0), ("saturated_frac", 1)):
                    vals = ex[:, col]
                    if np.isfinite(vals).any():
                        out[i, _F[name]] = np.nanmean(vals)
        for i, rs in enumerate(raws):
            if rs and counts[i] > 0:
                _derive(out[i], counts[i], rs)
    return out


def _derive(out: np.ndarray, count: int, raws: list[np.ndarray]) -> None:
    r = raws[0] if len(raws) == 1 else np.stack(raws)
    if r.ndim == 1:
        total, sumsq, mn, mx, zeros, bad = (float(v) for v in r[: len(RAW)])
    else:
        total, sumsq, zeros, bad = (float(r[:, _R[n]].sum()) for n in ("sum", "sumsq", "zeros",
                                                                      "nonfinite"))
        mn, mx = float(r[:, _R["min"]].min()), float(r[:, _R["max"]].max())
    out[_F["nonfinite"]] = bad
    out[_F["zero_frac"]] = zeros / count
    if bad > 0:
        return
    mean = total / count
    var = max(sumsq / count - mean * mean, 0.0)
    out[_F["mean"]] = mean
    out[_F["std"]] = math.sqrt(var * count / (count - 1)) if count > 1 else 0.0
    out[_F["min"]] = mn
    out[_F["max"]] = mx
    out[_F["norm"]] = math.sqrt(max(sumsq, 0.0))


def finalize(count: int, raws: list[np.ndarray], extras: np.ndarray | None = None) -> np.ndarray:
    """Merge raw vectors of one (layer, kind) and derive the :data:`STAT_FIELDS` vector."""
    return finalize_many([count], [raws], [extras])[0]
