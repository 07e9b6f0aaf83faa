"""One run per job under ``torch.distributed``: each sampled step is merged across ranks.

Every statistic declares how it merges (the raw vector of :mod:`.reductions`): element counts,
sums, sums of squares, zero and non-finite counts, saturation counts and histogram counts add
up; minima, maxima and dead-unit peaks take the maximum (a minimum as the maximum of its
negation). So the merged row of a data-parallel quantity (activations, inputs) is exactly the row
of the global batch. Weights, gradients and updates are replicated under DDP (every rank holds
the same values after the gradient all-reduce): they are averaged, and a rank that disagrees is
evidence of a bug. Under FSDP each rank holds a shard: they add up to whole parameters.

Per sampled step: one collective of four numbers (all ranks recorded the same layout), one
``MAX`` all-reduce of the extremes, and one ``SUM`` reduce to rank 0 of the sums and of the
histograms, binned on the common range the ``MAX`` step found. Each is proportional to the
number of recorded layers, not to the model's size. Rank 0 writes.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import numpy as np
import torch

from deepscope.capture.reductions import R, Summary, host_hist

#: Kinds every data-parallel rank holds a copy of (averaged, unless parameters are sharded).
REPLICATED = frozenset({"weight", "grad", "update"})
_SUMS = ("sum", "sumsq", "zeros", "nonfinite")


def rank_and_world() -> tuple[int, int]:
    """The rank of this process and the world size (torchrun's environment before a group)."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
    except (ImportError, RuntimeError):
        pass
    try:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    except ValueError:
        return 0, 1


def is_sharded(model: torch.nn.Module) -> bool:
    """FSDP: a ``FullyShardedDataParallel`` wrapper, or ``fully_shard`` parameters (DTensors)."""
    if any(type(m).__name__ == "FullyShardedDataParallel" for m in model.modules()):
        return True
    return any(type(p).__name__ == "DTensor" or hasattr(p, "_local_tensor")
               for p in model.parameters())


def local_tensor(t: torch.Tensor) -> torch.Tensor:
    """The shard a rank holds of a DTensor (reading a DTensor whole would communicate)."""
    to_local = getattr(t, "to_local", None)
    return to_local() if callable(to_local) else t


class RankReducer:
    """Merges a :class:`~deepscope.capture.reductions.Summary` across the ranks of a group.

    Example:
        >>> RankReducer(world_size=2, rank=0, sharded=False).replicated
        frozenset({'grad', 'update', 'weight'})

    """

    def __init__(self, world_size: int, rank: int, *, sharded: bool, group: Any = None):
        self.world_size, self.rank, self.group = world_size, rank, group
        self.replicated = frozenset() if sharded else REPLICATED
        #: Facts about the last step that deserve an event on rank 0 (set by :meth:`reduce`).
        self.outliers: dict[str, Any] = {}
        #: Wall time spent in :meth:`reduce` (packing and the collectives), and its calls.
        self.seconds, self.calls = 0.0, 0

    # -- collectives -----------------------------------------------------------------------
    def _device(self) -> torch.device:
        import torch.distributed as dist

        if dist.get_backend(self.group) == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def _all_reduce_max(self, values: np.ndarray) -> np.ndarray:
        import torch.distributed as dist

        t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64)).to(self._device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.group)
        return t.cpu().numpy()

    def _reduce_sum(self, values: np.ndarray) -> np.ndarray:
        import torch.distributed as dist

        t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64)).to(self._device())
        dist.reduce(t, dst=0, op=dist.ReduceOp.SUM, group=self.group)
        return t.cpu().numpy()

    # -- the step --------------------------------------------------------------------------
    def reduce(
        self, summary: Summary, sources: dict[tuple[str, str], tuple[Any, float]], bins: int
    ) -> Summary | None:
        """The merged summary on rank 0, None elsewhere (every rank must call this)."""
        import time

        t0 = time.perf_counter()
        keys = summary.keys
        peak_sizes = [0 if p is None else int(p.size) for p in summary.peaks]
        hist_keys = sorted(k for k in sources if k in summary.keys)
        layout = zlib.crc32(repr((keys, peak_sizes, hist_keys)).encode())
        n = float(len(keys))
        check = self._all_reduce_max(np.array([layout, -layout, n, -n], dtype=np.float64))
        if check[0] != -check[1] or check[2] != -check[3]:
            self.outliers = {"layout_mismatch": True}
            self._timed(t0)
            return summary if self.rank == 0 else None
        ext = self._extremes(summary)
        top = self._all_reduce_max(ext)
        merged_min, merged_max = -top[0::2][: len(keys)], top[1::2][: len(keys)]
        sums = self._sums(summary, sources, hist_keys, merged_min, merged_max, bins)
        total = self._reduce_sum(sums)
        self._timed(t0)
        if self.rank != 0:
            return None
        return self._rebuild(summary, top, total, hist_keys, merged_min, merged_max, bins)

    def _timed(self, t0: float) -> None:
        import time

        self.seconds += time.perf_counter() - t0
        self.calls += 1

    def _extremes(self, summary: Summary) -> np.ndarray:
        """MAX-reduced: -min and max per key, then peaks, then norm and -norm, then a rank tag."""
        k = len(summary.keys)
        with np.errstate(all="ignore"):
            lo = np.nan_to_num(-summary.raw[:, R["min"]], nan=-np.inf)
            hi = np.nan_to_num(summary.raw[:, R["max"]], nan=-np.inf)
            norm = np.nan_to_num(np.sqrt(np.maximum(summary.raw[:, R["sumsq"]], 0)), nan=-1.0)
        pairs = np.empty(2 * k)
        pairs[0::2], pairs[1::2] = lo, hi
        peaks = [p for p in summary.peaks if p is not None]
        bad = np.nan_to_num(summary.raw[:, R["nonfinite"]], nan=0.0) > 0
        tag = np.where(bad, float(self.rank + 1), 0.0)
        return np.concatenate([pairs, *peaks, norm, -norm, tag])

    def _sums(self, summary: Summary, sources: dict, hist_keys: list, lo: np.ndarray,
              hi: np.ndarray, bins: int) -> np.ndarray:
        """SUM-reduced: count, sums, saturation counts per key, then histograms."""
        cols = [summary.counts] + [summary.raw[:, R[name]] for name in _SUMS]
        cols += [summary.sat[:, 0], summary.sat[:, 1]]
        block = np.nan_to_num(np.stack(cols, axis=1), nan=0.0)
        index = {k: i for i, k in enumerate(summary.keys)}
        hists = [host_hist(sources[k][0], bins, float(lo[index[k]]), float(hi[index[k]]),
                           sources[k][1]) for k in hist_keys]
        return np.concatenate([block.reshape(-1), *hists]) if hists else block.reshape(-1)

    def _rebuild(self, summary: Summary, top: np.ndarray, total: np.ndarray, hist_keys: list,
                 lo: np.ndarray, hi: np.ndarray, bins: int) -> Summary:
        k = len(summary.keys)
        width = 1 + len(_SUMS) + 2
        block = total[: k * width].reshape(k, width)
        scale = np.array([1 / self.world_size if kind in self.replicated else 1.0
                          for _, kind in summary.keys])
        block = block * scale[:, None]
        raw = np.full_like(summary.raw, np.nan)
        for j, name in enumerate(_SUMS):
            raw[:, R[name]] = block[:, 1 + j]
        raw[:, R["min"]], raw[:, R["max"]] = lo, hi
        missing = ~np.isfinite(summary.raw).any(axis=1)
        raw[missing] = np.nan
        off, peaks = 2 * k, []
        for p in summary.peaks:
            if p is None:
                peaks.append(None)
            else:
                peaks.append(top[off : off + p.size])
                off += p.size
        norm_max, norm_min, tag = top[off : off + k], -top[off + k : off + 2 * k], \
            top[off + 2 * k : off + 3 * k]
        sat = np.where(block[:, -1:] > 0, block[:, -2:], np.nan)
        hists = {}
        pos = k * width
        index = {key: i for i, key in enumerate(summary.keys)}
        for key in hist_keys:
            i = index[key]
            hists[key] = (total[pos : pos + bins] * scale[i], float(lo[i]), float(hi[i]))
            pos += bins
        self._note_outliers(summary, norm_max, norm_min, tag)
        return Summary(list(summary.keys), block[:, 0], raw, sat, peaks, hists,
                       dict(summary.ratios))

    def _note_outliers(self, summary: Summary, norm_max: np.ndarray, norm_min: np.ndarray,
                       tag: np.ndarray) -> None:
        spread = []
        for i, (layer, kind) in enumerate(summary.keys):
            if kind in self.replicated and norm_max[i] > 0:
                rel = (norm_max[i] - norm_min[i]) / norm_max[i]
                if rel > 1e-3:
                    spread.append({"layer": layer, "kind": kind, "max_norm": float(norm_max[i]),
                                   "min_norm": float(norm_min[i])})
        bad = [{"layer": layer, "kind": kind, "rank": int(tag[i]) - 1}
               for i, (layer, kind) in enumerate(summary.keys) if tag[i] > 0]
        self.outliers = {}
        if spread:
            self.outliers["replicas_differ"] = spread[:20]
        if bad:
            self.outliers["nonfinite_on_rank"] = bad[:20]
