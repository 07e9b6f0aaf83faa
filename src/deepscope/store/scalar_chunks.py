"""Scalar series stored as numpy-encoded chunks, and their envelopes.

A chunk holds one tag's points of one writer flush (steps int64, values and wall times float64).
Each chunk also stores its *envelope*: the first and last point and, per block of
:data:`ENVELOPE_BLOCK` points, the minimum and the maximum (about 6 % of the points). A
downsampled query of a long series reads the envelopes only: 1M points are 24 MB of chunks but
0.75 MB of envelopes, and the min/max of every bucket the query keeps is in them (the buckets of
a 2,000-point view of 1M points hold ~500 points, 16 blocks). The full series is read when the
envelopes cannot answer exactly enough (a short series, a step range, chunks whose steps overlap,
runs written before envelopes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepscope.errors import NotRecordedError
from deepscope.store import schema
from deepscope.store.downsample import minmax_indices
from deepscope.store.records import ScalarSeries
from deepscope.store.sqlite_open import decode_chunks, frombuffer

#: Points per envelope block (two are kept per block).
ENVELOPE_BLOCK = 32
#: A downsampled query uses envelopes when the series has this many points per point asked.
ENVELOPE_RATIO = 16

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def envelope(steps: np.ndarray, values: np.ndarray, walls: np.ndarray) -> bytes | None:
    """The envelope blob of one chunk (None for chunks too short to need one).

    Example:
        >>> import numpy as np
        >>> n = 200
        >>> blob = envelope(np.arange(n), np.sin(np.arange(n) / 10), np.zeros(n))
        >>> len(blob) // 24 < n
        True

    """
    n = len(steps)
    if n < 4 * ENVELOPE_BLOCK or not np.all(np.diff(steps) > 0):
        return None  # short, or steps out of order within the chunk: read it whole
    used = n // ENVELOPE_BLOCK * ENVELOPE_BLOCK
    v = values[:used].reshape(-1, ENVELOPE_BLOCK)
    if np.isnan(v.sum()):
        v = np.where(np.isnan(v), 0.0, v)  # NaN points are kept below, whatever their block
    base = np.arange(len(v)) * ENVELOPE_BLOCK
    picks = [base + v.argmin(axis=1), base + v.argmax(axis=1), np.array([0, n - 1])]
    if used < n:
        tail = values[used:]
        picks.append(used + np.array([int(np.nanargmin(tail) if not np.isnan(tail).all() else 0),
                                      int(np.nanargmax(tail) if not np.isnan(tail).all() else 0)]))
    picks.append(np.flatnonzero(np.isnan(values))[:1024])
    idx = np.unique(np.concatenate(picks))
    return b"".join([
        np.asarray(steps[idx], dtype=schema.STEP_DTYPE).tobytes(),
        np.asarray(values[idx], dtype=schema.VALUE_DTYPE).tobytes(),
        np.asarray(walls[idx], dtype=schema.WALL_DTYPE).tobytes(),
    ])


def _decode_envelope(blob: bytes, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = len(blob) // 24
    whole = frombuffer(blob[: 8 * k], schema.STEP_DTYPE, "scalar envelope", where)
    vals = frombuffer(blob[8 * k : 16 * k], schema.VALUE_DTYPE, "scalar envelope", where)
    walls = frombuffer(blob[16 * k : 24 * k], schema.WALL_DTYPE, "scalar envelope", where)
    return whole, vals, walls


class ScalarReader:
    """Reads scalar series of one run database; a small cache of decoded series per reader."""

    #: Decoded scalar series kept (least recently used dropped first).
    CACHE_TAGS = 16

    def __init__(self, query: Query, where: str, run_id: str, has_envelopes: bool):
        self._q, self._where, self._id = query, where, run_id
        self._envelopes = has_envelopes
        self._cache: dict[str, tuple[tuple[Any, ...], tuple[np.ndarray, ...]]] = {}

    def _tag_id(self, tag: str) -> int:
        rows = self._q("SELECT id FROM tags WHERE name = ?", (tag,))
        if not rows:
            raise NotRecordedError(f"scalar tag {tag!r} was never logged in run {self._id}")
        return int(rows[0][0])

    def series(self, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A tag's full series, sorted, last write winning; cached until new chunks arrive."""
        tid = self._tag_id(tag)
        sig = tuple(self._q("SELECT COUNT(*), MAX(id) FROM scalar_chunks WHERE tag_id = ?",
                            (tid,))[0])
        hit = self._cache.get(tag)
        if hit is not None and hit[0] == sig:
            return hit[1]
        rows = self._q("SELECT steps, values_, walls FROM scalar_chunks WHERE tag_id = ?"
                       " ORDER BY id", (tid,))
        steps, vals, walls = decode_chunks(rows, f"scalar chunk of {tag!r}", self._where)
        if len(steps) > 1 and not np.all(np.diff(steps) > 0):
            # Sort by step, last write wins for duplicates (stable sort keeps write order).
            order = np.argsort(steps, kind="stable")
            steps, vals, walls = steps[order], vals[order], walls[order]
            keep = np.ones(len(steps), bool)
            keep[:-1] = steps[1:] != steps[:-1]
            steps, vals, walls = steps[keep], vals[keep], walls[keep]
        series = (steps.astype(np.int64, copy=False), vals.astype(np.float64, copy=False),
                  walls.astype(np.float64, copy=False))
        # A small LRU (a dashboard zooming one chart re-reads the same tag many times).
        self._cache.pop(tag, None)
        self._cache[tag] = (sig, series)
        while len(self._cache) > self.CACHE_TAGS:
            self._cache.pop(next(iter(self._cache)))
        return series

    def query(self, tag: str, max_points: int | None, start: int | None, end: int | None
              ) -> ScalarSeries:
        """:meth:`RunReader.scalars` (the contract is there)."""
        if max_points is not None and start is None and end is None and tag not in self._cache:
            fast = self._from_envelopes(tag, max_points)
            if fast is not None:
                return fast
        steps, vals, walls = self.series(tag)
        if start is not None or end is not None:
            lo = np.searchsorted(steps, start, "left") if start is not None else 0
            hi = np.searchsorted(steps, end, "right") if end is not None else len(steps)
            steps, vals, walls = steps[lo:hi], vals[lo:hi], walls[lo:hi]
        total = len(steps)
        if max_points is not None:
            idx = minmax_indices(vals, max_points)
            steps, vals, walls = steps[idx], vals[idx], walls[idx]
        return ScalarSeries(tag, steps, vals, walls, total, len(steps) < total)

    def _from_envelopes(self, tag: str, max_points: int) -> ScalarSeries | None:
        if not self._envelopes:
            return None
        tid = self._tag_id(tag)
        meta = self._q("SELECT id, first_step, last_step, n, envelope IS NOT NULL"
                       " FROM scalar_chunks WHERE tag_id = ? ORDER BY id", (tid,))
        total = sum(int(r[3]) for r in meta)
        if total < ENVELOPE_RATIO * max_points:
            return None
        if any(b[1] <= a[2] for a, b in zip(meta, meta[1:], strict=False)):
            return None  # steps logged out of order or twice: only the full series resolves it
        # Chunks too short for an envelope are read whole; a long one without is an old run's.
        if any(not r[4] and r[3] >= 4 * ENVELOPE_BLOCK for r in meta):
            return None
        rows = self._q("SELECT envelope, steps, values_, walls FROM scalar_chunks"
                       " WHERE tag_id = ? ORDER BY id", (tid,)) if any(not r[4] for r in meta) \
            else [(r[0], None, None, None) for r in self._q(
                "SELECT envelope FROM scalar_chunks WHERE tag_id = ? ORDER BY id", (tid,))]
        parts = [_decode_envelope(r[0], self._where) if r[0] is not None
                 else decode_chunks([r[1:]], f"scalar chunk of {tag!r}", self._where)
                 for r in rows]
        steps, vals, walls = (np.concatenate([p[i] for p in parts]) for i in range(3))
        idx = minmax_indices(vals, max_points)
        return ScalarSeries(tag, steps[idx].astype(np.int64, copy=False),
                            vals[idx].astype(np.float64, copy=False),
                            walls[idx].astype(np.float64, copy=False), total, True)


def has_envelopes(con: sqlite3.Connection) -> bool:
    """Whether the database's chunks have the envelope column (runs written since it exists)."""
    try:
        return any(r[1] == "envelope" for r in con.execute("PRAGMA table_info(scalar_chunks)"))
    except sqlite3.DatabaseError:
        return False
