"""The transformer tables of a SQLite run: written by the sink, read by the reader.

Mixed into :class:`~deepscope.store.sqlite_sink.SqliteSink` and
:class:`~deepscope.store.sqlite.SqliteRunReader` so the transformer capture adds tables without
touching the core statistics code. Runs written before these tables existed open read-only as
before: every read checks that its table exists and raises ``NotRecordedError`` otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepscope.errors import InvalidArgumentError, NotRecordedError
from deepscope.store import schema
from deepscope.store.downsample import minmax_indices, thin_indices
from deepscope.store.reader import NO_PROBE, NO_TRANSFORMER
from deepscope.store.records import StatMatrix
from deepscope.store.transformer_records import (
    AttentionPattern,
    HeadMatrix,
    OutputSeries,
    TransformerInfo,
)

#: One sampled step of the transformer capture, as the writer receives it.
HeadRows = Sequence[tuple[str, np.ndarray]]  # (module, (heads, len(HEAD_FIELDS)))
BlockRows = Sequence[tuple[str, np.ndarray]]  # (block, (len(BLOCK_FIELDS),))
OutputRows = Sequence[tuple[str, np.ndarray]]  # (watch, (len(OUTPUT_FIELDS),))
PatternRows = Sequence[tuple[str, np.ndarray]]  # (module, (heads, queries, keys))


def _real(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _check(field: str, allowed: tuple[str, ...], what: str) -> None:
    if field not in allowed:
        raise InvalidArgumentError(f"unknown {what} field {field!r}; expected one of "
                                   f"{', '.join(allowed)}")


class TransformerWrites:
    """Sink side: the ``transformer`` writer operation (one per sampled step)."""

    # Provided by the sink.
    con: Any
    _note_step: Callable[[int], None]

    def _op_transformer(self, step: int, heads: HeadRows, blocks: BlockRows,
                        outputs: OutputRows, patterns: PatternRows) -> None:
        self._note_step(step)
        hcols = ", ".join(schema.HEAD_FIELDS)
        self.con.executemany(
            f"INSERT OR REPLACE INTO head_stats (module, step, head, {hcols}) VALUES "
            f"(?, ?, ?{', ?' * len(schema.HEAD_FIELDS)})",
            [(m, step, h, *map(_real, row)) for m, vals in heads for h, row in enumerate(vals)])
        bcols = ", ".join(schema.BLOCK_FIELDS)
        self.con.executemany(
            f"INSERT OR REPLACE INTO block_stats (block, step, {bcols}) VALUES "
            f"(?, ?{', ?' * len(schema.BLOCK_FIELDS)})",
            [(b, step, *map(_real, vec)) for b, vec in blocks])
        ocols = ", ".join(schema.OUTPUT_FIELDS)
        self.con.executemany(
            f"INSERT OR REPLACE INTO output_stats (watch, step, {ocols}) VALUES "
            f"(?, ?{', ?' * len(schema.OUTPUT_FIELDS)})",
            [(w, step, *map(_real, vec)) for w, vec in outputs])
        self.con.executemany(
            "INSERT OR REPLACE INTO attention_patterns (module, step, heads, queries, keys, probs)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(m, step, *p.shape, np.asarray(p, dtype=schema.PATTERN_DTYPE).tobytes())
             for m, p in patterns])


class TransformerReads:
    """Reader side; the methods of :class:`~deepscope.store.reader.RunReader` of the same names."""

    # Provided by the reader.
    id: str
    _q: Callable[..., list[tuple[Any, ...]]]

    def _has_table(self, name: str) -> bool:
        return bool(self._q("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (name,)))

    def _rows(self, table: str, sql: str, args: Sequence[Any] = (), why: str = NO_TRANSFORMER
              ) -> list[tuple[Any, ...]]:
        rows = self._q(sql, args) if self._has_table(table) else []
        if not rows:
            raise NotRecordedError(f"run {self.id}: {why}")
        return rows

    def transformer_info(self) -> TransformerInfo:
        rows = self._q("SELECT value FROM meta WHERE key = 'transformer'")
        if not rows:
            raise NotRecordedError(f"run {self.id}: {NO_TRANSFORMER}")
        return TransformerInfo.from_dict(json.loads(rows[0][0]))

    def _module_order(self, names: set[str]) -> list[str]:
        try:
            known = [m.name for m in self.transformer_info().attention]
        except NotRecordedError:
            known = []
        return [n for n in known if n in names] + sorted(names - set(known))

    def head_matrix(self, field: str, *, max_steps: int | None = None) -> HeadMatrix:
        _check(field, schema.HEAD_FIELDS, "head statistic")
        rows = self._rows("head_stats", f"SELECT module, step, head, {field} FROM head_stats")
        modules = self._module_order({r[0] for r in rows})
        steps = np.unique(np.array([r[1] for r in rows], dtype=np.int64))
        heads = {m: 0 for m in modules}
        for m, _, h, _ in rows:
            heads[m] = max(heads[m], int(h) + 1)
        values = np.full((len(steps), len(modules), max(heads.values())), np.nan)
        pos = {m: i for i, m in enumerate(modules)}
        si = np.searchsorted(steps, [r[1] for r in rows])
        mi = [pos[r[0]] for r in rows]
        hi = [int(r[2]) for r in rows]
        values[si, mi, hi] = [np.nan if r[3] is None else r[3] for r in rows]
        idx = thin_indices(len(steps), max_steps)
        return HeadMatrix(field, tuple(modules), tuple(heads[m] for m in modules), steps[idx],
                          values[idx])

    def block_matrix(self, field: str, *, max_steps: int | None = None) -> StatMatrix:
        _check(field, schema.BLOCK_FIELDS, "block statistic")
        rows = self._rows("block_stats", f"SELECT block, step, {field} FROM block_stats")
        try:
            known = list(self.transformer_info().blocks)
        except NotRecordedError:
            known = []
        names = {r[0] for r in rows}
        blocks = [b for b in known if b in names] + sorted(names - set(known))
        steps = np.unique(np.array([r[1] for r in rows], dtype=np.int64))
        values = np.full((len(blocks), len(steps)), np.nan)
        pos = {b: i for i, b in enumerate(blocks)}
        values[[pos[r[0]] for r in rows], np.searchsorted(steps, [r[1] for r in rows])] = [
            np.nan if r[2] is None else r[2] for r in rows]
        idx = thin_indices(len(steps), max_steps)
        return StatMatrix("block", field, tuple(blocks), steps[idx], values[:, idx])

    def output_series(self, watch: str | None = None, *, max_points: int | None = None
                      ) -> OutputSeries:
        if max_points is not None and max_points < 1:
            raise InvalidArgumentError("max_points must be >= 1")
        cols = ", ".join(schema.OUTPUT_FIELDS)
        if watch is None:
            first = self._rows("output_stats", "SELECT watch FROM output_stats ORDER BY step "
                               "LIMIT 1")
            watch = str(first[0][0])
        rows = self._rows("output_stats", f"SELECT step, {cols} FROM output_stats WHERE watch = ?"
                          " ORDER BY step", (watch,))
        arr = np.array(rows, dtype=np.float64)
        idx = np.arange(len(arr))
        if max_points is not None and len(arr) > max_points and max_points < 8:
            idx = thin_indices(len(arr), max_points)
        elif max_points is not None and len(arr) > max_points:
            # Spikes of the two drift statistics survive (each gets half of the points).
            half = max_points // 2
            idx = np.union1d(minmax_indices(arr[:, 1 + schema.OUTPUT_FIELDS.index("lse_mean")],
                                            half),
                             minmax_indices(arr[:, 1], half))
        arr = arr[idx]
        return OutputSeries(watch, arr[:, 0].astype(np.int64),
                            {f: arr[:, i + 1] for i, f in enumerate(schema.OUTPUT_FIELDS)})

    def attention_pattern(self, module: str, step: int | None = None, head: int | None = None
                          ) -> AttentionPattern:
        steps = [int(s) for (s,) in self._rows(
            "attention_patterns", "SELECT step FROM attention_patterns WHERE module = ?"
            " ORDER BY step", (module,), why=f"no attention pattern of module {module!r} "
            f"({NO_PROBE})")]
        at = steps[-1] if step is None else min(steps, key=lambda s: (abs(s - int(step)), s))
        heads, q, k, blob = self._q(
            "SELECT heads, queries, keys, probs FROM attention_patterns WHERE module = ? AND"
            " step = ?", (module, at))[0]
        probs = np.frombuffer(blob, dtype=schema.PATTERN_DTYPE).astype(np.float32)
        probs = probs.reshape(int(heads), int(q), int(k))
        if head is not None:
            if not 0 <= int(head) < int(heads):
                raise InvalidArgumentError(f"head {head} out of range: {module!r} has {heads} "
                                           "heads")
            probs = probs[int(head)]
        try:
            tokens = self.transformer_info().probe_tokens
        except NotRecordedError:
            tokens = None
        return AttentionPattern(module, at, int(heads), probs,
                                None if head is None else int(head), tuple(steps), tokens)
