"""Statistics of one sampled step, with one host transfer per device.

What a sampled step reads must be taken when it is seen: a later in-place op (``ReLU(inplace)``
after a Linear, ``optimizer.step()`` on the weights, ``zero_grad(set_to_none=False)``) would
change it. So :meth:`StepStats.add` reduces each large tensor at once (exact sum, sum of squares,
min and max; a fixed sample for the zero share and histogram, see :mod:`.reductions`) and copies
each small one: into a float64 numpy array on the CPU (a numpy call costs a fraction of a torch
op, and per-call costs dominate small tensors), on its device elsewhere (reduced together in ~10
device ops when the step ends). Results on an accelerator stay there until the step's single
transfer. Under ``torch.distributed`` a :class:`~deepscope.capture.distributed.RankReducer`
merges the ranks between the transfer and the rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from deepscope.capture.reductions import (
    LARGE,
    NAN,
    RAW,
    F,
    R,
    Summary,
    as_float,
    device_hist,
    finalize,
    host_copy,
    host_hist,
    host_raws,
    large_raw,
    merge_peaks,
    merge_raws,
    reduce_small,
    sample_index,
    sample_raw,
    saturated_count,
    unit_peaks,
    whole_counts,
)

__all__ = ["LARGE", "HistRow", "StatRow", "StepStats", "host_copy", "sample_index",
           "unit_dim_for"]

Key = tuple[str, str]
StatRow = tuple[str, str, np.ndarray]
HistRow = tuple[str, str, float, float, np.ndarray]


class Reducer(Protocol):
    """Merges one step's summary across processes (see ``capture/distributed.py``)."""

    def reduce(self, summary: Summary, sources: dict[Key, tuple[Any, float]], bins: int
               ) -> Summary | None: ...


def unit_dim_for(x: torch.Tensor) -> int:
    """Channels for image-like outputs (N, C, H, W...), the last dim for (N, F) and (N, T, F)."""
    return 1 if x.dim() >= 4 else -1


@dataclass
class _Pending:
    count: int = 0
    raws: list[Any] = field(default_factory=list)
    peaks: list[Any] = field(default_factory=list)
    sats: list[Any] = field(default_factory=list)
    hist_taken: bool = False


class StepStats:
    """Statistics of one sampled step, keyed by ``(layer, kind)``; repeated calls merge.

    Example:
        >>> import torch
        >>> s = StepStats(step=0, bins=8, histograms=True)
        >>> s.add("fc", "weight", torch.ones(3, 4))
        >>> (rows, hists) = s.collect()
        >>> rows[0][2][:3].tolist(), int(hists[0][4].sum())
        ([12.0, 1.0, 0.0], 12)

    """

    def __init__(self, step: int, bins: int, histograms: bool):
        self.step = step
        self.bins = bins
        self.histograms = histograms
        self._pending: dict[Key, _Pending] = defaultdict(_Pending)
        self._ratio: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._probes: dict[str, torch.Tensor] = {}
        # Small tensors waiting for the end of the step: host float64 copies, device copies.
        self._host: list[tuple[Key, np.ndarray]] = []
        self._device: dict[torch.device, list[tuple[Key, torch.Tensor]]] = defaultdict(list)
        # What each histogram is made of: (host array or device tensor, scale to the tensor).
        self._hist_src: dict[Key, tuple[Any, float]] = {}
        #: Host values of :meth:`probe` tensors, filled by :meth:`collect`.
        self.probes: dict[str, np.ndarray] = {}
        self._devices: set[torch.device] = set()
        self._staged: Any = None

    def __contains__(self, key: Key) -> bool:
        return key in self._pending

    def __bool__(self) -> bool:
        return bool(self._pending) or bool(self._probes)

    def _histogram_wanted(self, p: _Pending, hist: bool) -> bool:
        """Only the first tensor of a key gets a histogram (a shared module's first call)."""
        want = hist and self.histograms and not p.hist_taken
        p.hist_taken = True
        return want

    # -- recording -------------------------------------------------------------------------
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
        self._devices.add(tensors[0].device)
        want = self._histogram_wanted(p, hist)
        if unit_dim is not None:
            p.peaks.append(unit_peaks(tensors[0], unit_dim))
        if bounds is not None:
            p.sats.append(saturated_count(tensors[0], bounds))
        if total < LARGE and tensors[0].device.type == "cpu":
            a = host_copy(tensors)
            self._host.append((key, a))
            if want:
                self._hist_src[key] = (a, 1.0)
            return
        if len(tensors) > 1 and total < LARGE:
            tensors = [torch.cat([as_float(t) for t in tensors])]  # cheap for small sets
        # The histogram of a multi-tensor key covers its largest tensor (e.g. weight, not bias).
        largest = max(range(len(tensors)), key=lambda i: tensors[i].numel())
        for i, t in enumerate(tensors):
            self._add_one(key, p, as_float(t), want and i == largest)

    def _add_one(self, key: Key, p: _Pending, flat: torch.Tensor, want: bool) -> None:
        if flat.numel() >= LARGE:
            sample = flat.index_select(0, sample_index(flat.numel(), flat.device))
            p.raws.append(large_raw(flat, sample))
            if want:
                src = sample.numpy().astype(np.float64) if flat.device.type == "cpu" else sample
                self._hist_src[key] = (src, flat.numel() / sample.numel())
        elif flat.device.type == "cpu":
            a = host_copy([flat])
            self._host.append((key, a))
            if want:
                self._hist_src[key] = (a, 1.0)
        else:
            copy = flat.clone()
            self._device[flat.device].append((key, copy))
            if want:
                self._hist_src[key] = (copy, 1.0)

    def add_array(self, layer: str, kind: str, a: np.ndarray, *, hist: bool = True) -> None:
        """Record a flat float64 host array the caller made (e.g. an update ``after - before``)."""
        if a.size == 0:
            return
        key = (layer, kind)
        p = self._pending[key]
        p.count += a.size
        self._host.append((key, a))
        if self._histogram_wanted(p, hist):
            self._hist_src[key] = (a, 1.0)

    def add_sample(self, layer: str, kind: str, sample: torch.Tensor, population: int) -> None:
        """Record a tensor of ``population`` elements from a sample of it (statistics scaled)."""
        if sample.numel() == 0:
            return
        key = (layer, kind)
        p = self._pending[key]
        p.count += population
        flat = as_float(sample)
        p.raws.append(sample_raw(flat, population))
        if self._histogram_wanted(p, True):
            src = flat.numpy().astype(np.float64) if flat.device.type == "cpu" else flat
            self._hist_src[key] = (src, population / flat.numel())

    def add_missing(self, layer: str, kind: str) -> None:
        """Record that a layer's trainable parameters got no gradient (``count = 0``)."""
        self._pending.setdefault((layer, kind), _Pending())

    def probe(self, key: str, value: torch.Tensor | np.ndarray) -> None:
        """Bring a small device tensor to the host with this step's one transfer (checks); a
        host array is kept as it is.
        """
        if isinstance(value, np.ndarray):
            self.probes[key] = value.astype(np.float64).reshape(-1)
            return
        self._probes[key] = value.detach().reshape(-1)
        self._devices.add(value.device)

    def ratio(self, layer: str, numerator_kind: str, *denominator_kinds: str) -> None:
        """Fill ``update_ratio`` of ``(layer, numerator_kind)`` with the first present norm."""
        self._ratio[layer] = (numerator_kind, denominator_kinds)

    def drop(self, kind: str) -> None:
        """Forget every row of ``kind`` recorded so far (gradients read too early)."""
        for key in [k for k in self._pending if k[1] == kind]:
            del self._pending[key]
            self._hist_src.pop(key, None)
        self._host = [h for h in self._host if h[0][1] != kind]
        for items in self._device.values():
            items[:] = [d for d in items if d[0][1] != kind]

    # -- the end of the step ----------------------------------------------------------------
    def collect(self, reducer: Reducer | None = None) -> tuple[list[StatRow], list[HistRow]]:
        """Rows in :data:`STAT_FIELDS` order and histograms with their bin range.

        With a ``reducer`` the ranks are merged first; a rank that does not write gets ``[]``.
        """
        summary, sources = self._summarize(ship_sources=reducer is not None)
        if reducer is not None:
            merged = reducer.reduce(summary, sources, self.bins)
            if merged is None:
                return [], []
            summary = merged
        vecs = finalize(summary)
        index = {k: i for i, k in enumerate(summary.keys)}
        rows = [(layer, kind, vecs[i]) for i, (layer, kind) in enumerate(summary.keys)]
        hist_rows = []
        for key, (counts, lo, hi) in summary.hists.items():
            i = index.get(key)
            finite = np.isfinite(lo) and np.isfinite(hi)
            if i is not None and vecs[i][F["nonfinite"]] == 0 and finite:
                hist_rows.append((*key, float(lo), float(hi), whole_counts(counts)))
        return rows, hist_rows

    def _summarize(self, ship_sources: bool = False
                   ) -> tuple[Summary, dict[Key, tuple[Any, float]]]:
        """Everything on the host (one transfer per device), merged per key. ``ship_sources``:
        bring histogram sources to the host too (ranks bin them over their common range).
        """
        fetched, dev_hists = self._transfer(ship_sources)
        keys = list(self._pending)
        raw = np.full((len(keys), len(RAW)), NAN)
        sat = np.full((len(keys), 2), NAN)
        peaks: list[np.ndarray | None] = []
        host_rows: dict[Key, list[np.ndarray]] = defaultdict(list)
        for (key, _), vec in zip(self._host, host_raws([a for _, a in self._host]), strict=True):
            host_rows[key].append(vec)
        for i, key in enumerate(keys):
            p = self._pending[key]
            raws = [fetched.get(id(r), r) for r in p.raws] + host_rows.get(key, [])
            raws += fetched.get(("small", key), [])
            if raws:
                raw[i] = merge_raws(raws)
            if p.sats:
                sat[i] = np.sum([np.asarray(fetched.get(id(s), s)) for s in p.sats], axis=0)
            got = [np.asarray(fetched.get(id(x), x)) for x in p.peaks if x is not None]
            peaks.append(merge_peaks(got))
        counts = np.array([self._pending[k].count for k in keys], dtype=np.float64)
        summary = Summary(keys, counts, raw, sat, peaks, ratios=dict(self._ratio))
        host_src: dict[Key, tuple[Any, float]] = {}
        for key, (src, scale) in self._hist_src.items():
            if isinstance(src, np.ndarray):
                host_src[key] = (src, scale)
        index = {k: i for i, k in enumerate(keys)}
        for key, (src, scale) in ({} if ship_sources else host_src).items():
            # A whole tensor is binned over its own range, a sample over its tensor's range.
            i = index[key]
            lo, hi = (float(raw[i, R["min"]]), float(raw[i, R["max"]])) if scale != 1.0 \
                else (float(src.min()), float(src.max()))
            summary.hists[key] = (host_hist(src, self.bins, lo, hi, scale), lo, hi)
        summary.hists.update(dev_hists)
        shipped = {key: (fetched[("src", key)], scale) for key, (_, scale) in
                   self._hist_src.items() if ("src", key) in fetched}
        return summary, {**host_src, **shipped}

    def _outgoing(
        self, ship_sources: bool
    ) -> tuple[dict[torch.device, list[tuple[Any, torch.Tensor]]], dict[torch.device, list[Key]]]:
        """Everything still on a device, grouped per device (small tensors reduced first)."""
        outgoing: dict[torch.device, list[tuple[Any, torch.Tensor]]] = defaultdict(list)
        for key, t in self._probes.items():
            outgoing[t.device].append((("probe", key), t.double()))
        for p in self._pending.values():
            for x in [*p.raws, *p.peaks, *p.sats]:
                if isinstance(x, torch.Tensor):
                    outgoing[x.device].append((id(x), x.double()))
        small_keys: dict[torch.device, list[Key]] = {}
        for device, items in self._device.items():
            if items:
                small_keys[device] = [k for k, _ in items]
                outgoing[device].append((("small", device), reduce_small([t for _, t in items])))
        for key, (src, scale) in self._hist_src.items():
            if not isinstance(src, torch.Tensor):
                continue
            if ship_sources:
                outgoing[src.device].append((("src", key), src.double()))
            else:
                lo, hi = torch.aminmax(src)
                h = device_hist(src, self.bins, lo, hi, scale)
                outgoing[src.device].append((("hist", key), torch.cat([h, torch.stack([lo, hi])])
                                             .double()))
        return outgoing, small_keys

    def on_accelerator(self) -> bool:
        """Whether some of this step lives on a device other than the CPU."""
        return any(d.type != "cpu" for d in self._devices)

    def stage(self) -> None:
        """Start the step's device-to-host copy without waiting for it (pinned memory, an event
        per device): training goes on while it lands. :meth:`collect` waits only if it has not.
        """
        if self._staged is not None:
            return
        outgoing, small_keys = self._outgoing(False)
        staged = []
        for device, items in outgoing.items():
            flat = torch.cat([t.reshape(-1) for _, t in items])
            event = None
            if device.type == "cuda":
                host = torch.empty(flat.shape, dtype=flat.dtype, pin_memory=True)
                host.copy_(flat, non_blocking=True)
                event = torch.cuda.Event()
                event.record()
            else:
                host = flat.cpu()
            staged.append((device, items, host, event))
        self._staged = (staged, small_keys)

    def ready(self) -> bool:
        """True when a staged copy has landed (always, if nothing was staged or on the CPU)."""
        if self._staged is None:
            return True
        return all(event is None or event.query() for *_, event in self._staged[0])

    def _transfer(
        self, ship_sources: bool = False
    ) -> tuple[dict[Any, Any], dict[Key, tuple[np.ndarray, float, float]]]:
        """Device results to the host in one copy per device; histograms made on the device."""
        if ship_sources:
            outgoing, small_keys = self._outgoing(True)
            staged = [(d, items, torch.cat([t.reshape(-1) for _, t in items]).cpu(), None)
                      for d, items in outgoing.items()]
        else:
            self.stage()
            assert self._staged is not None
            staged, small_keys = self._staged
        fetched: dict[Any, Any] = {}
        dev_hists: dict[Key, tuple[np.ndarray, float, float]] = {}
        for device, items, host_t, event in staged:
            if event is not None:
                event.synchronize()
            host = host_t.numpy()
            off = 0
            for tag, t in items:
                chunk = host[off : off + t.numel()].reshape(t.shape)
                off += t.numel()
                what = tag[0] if isinstance(tag, tuple) else "raw"
                if what == "probe":
                    self.probes[tag[1]] = chunk
                elif what == "small":
                    for key, row in zip(small_keys[device], chunk, strict=True):
                        fetched.setdefault(("small", key), []).append(row)
                elif what == "hist":
                    dev_hists[tag[1]] = (chunk[:-2], float(chunk[-2]), float(chunk[-1]))
                else:
                    fetched[tag] = chunk.copy() if what == "src" else chunk
        return fetched, dev_hists
