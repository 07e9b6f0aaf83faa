"""Writer side of the SQLite pair: used only by the background thread of RunWriter."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from deepscope.store import schema
from deepscope.store.records import LayerInfo
from deepscope.store.rundir import create_database
from deepscope.store.scalar_chunks import envelope
from deepscope.store.sqlite_transformer import TransformerWrites

_NF = len(schema.STAT_FIELDS)
_STAT_COLS = ", ".join(schema.STAT_FIELDS)


def _connect(db: Path) -> sqlite3.Connection:
    con = sqlite3.connect(db, timeout=30, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode is durable against process death (kill -9), which is the promise here;
    # only an OS crash may lose the last transactions.
    con.execute("PRAGMA synchronous=NORMAL")
    return con


class SqliteSink(TransformerWrites):
    """Writer side; used only by the background thread of :class:`RunWriter`."""

    def __init__(self, path: Path, meta: dict[str, Any]):
        path.mkdir(parents=True, exist_ok=True)
        now = time.time()
        base = {
            "schema_version": schema.SCHEMA_VERSION,
            "status": "running",
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": now,
            "heartbeat": now,
        }
        fresh = not (path / schema.DB_FILENAME).exists()
        self.db = create_database(path, {**base, **meta})
        self.con = _connect(self.db)
        if not fresh:  # reopening an existing run: make sure every table exists, say who writes
            with self.con:
                for ddl in schema.DDL:
                    self.con.execute(ddl)
                self._set_meta({**base, **meta})
        self._tags: dict[str, int] = dict(
            (n, i) for i, n in self.con.execute("SELECT id, name FROM tags")
        )
        self._layers: dict[str, int] = dict(
            (n, i) for i, n in self.con.execute("SELECT id, name FROM layers")
        )
        self._last_step: int | None = None
        row = self.con.execute("SELECT value FROM meta WHERE key = 'versions'").fetchone()
        self._versions: dict[str, int] = {**dict.fromkeys(schema.VERSION_PARTS, 0),
                                          **(json.loads(row[0]) if row else {})}

    def _set_meta(self, values: dict[str, Any]) -> None:
        self.con.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [(k, json.dumps(v, default=str)) for k, v in values.items()],
        )

    def _tag_id(self, tag: str) -> int:
        if tag not in self._tags:
            cur = self.con.execute("INSERT INTO tags (name) VALUES (?)", (tag,))
            self._tags[tag] = int(cur.lastrowid)
        return self._tags[tag]

    def _layer_id(self, name: str) -> int:
        if name not in self._layers:
            cur = self.con.execute(
                "INSERT INTO layers (name, type, family, ord, num_params, trainable_params, params)"
                " VALUES (?, '', 'other', ?, 0, 0, '[]')",
                (name, len(self._layers)),
            )
            self._layers[name] = int(cur.lastrowid)
        return self._layers[name]

    def _note_step(self, step: int) -> None:
        if self._last_step is None or step > self._last_step:
            self._last_step = step

    def write_batch(self, batch: list[tuple[Any, ...]], heartbeat: float) -> None:
        # Scalar items are the hot path (one per run.log call): they are gathered per set of
        # tags and turned into columns with np.fromiter, about 0.1 us per point, instead of
        # appending each point to Python lists.
        scalar_items: dict[tuple[str, ...], list[tuple[Any, ...]]] = defaultdict(list)
        with self.con:
            for item in batch:
                op = item[0]
                if op == "scalars":
                    scalar_items[tuple(item[3])].append(item)
                    continue
                self._bump(op)
                if op == "scalar_arrays":
                    self._write_chunk(item[1], item[2], item[3], item[4])
                else:
                    getattr(self, f"_op_{op}")(*item[1:])
            if scalar_items:
                self._bump("scalars")
                self._write_scalar_items(scalar_items)
            meta: dict[str, Any] = {"heartbeat": heartbeat}
            if self._last_step is not None:
                meta["last_step"] = self._last_step
            if batch:
                meta["versions"] = self._versions
            self._set_meta(meta)

    def _write_scalar_items(self, groups: dict[tuple[str, ...], list[tuple[Any, ...]]]) -> None:
        """One chunk per tag for the ``("scalars", step, wall, {tag: value})`` items of a batch."""
        columns: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        for tags, items in groups.items():
            n = len(items)
            # Steps stay int64 apart from the float64 values: a step above 2**53 keeps every digit.
            steps = np.fromiter((it[1] for it in items), np.int64, n)
            walls = np.fromiter((it[2] for it in items), np.float64, n)
            for tag in tags:
                values = np.fromiter((it[3][tag] for it in items), np.float64, n)
                columns[tag].append((steps, values, walls))
        for tag, parts in columns.items():
            if len(parts) == 1:
                self._write_chunk(tag, *parts[0])
            else:  # several tag sets in one batch: keep the write order within the chunk
                self._write_chunk(tag, *(np.concatenate(c) for c in zip(*parts, strict=True)))

    def _bump(self, op: str) -> None:
        """Count what changed, per part, so caches of unchanged parts stay valid."""
        for part in schema.OP_PARTS.get(op, ("other",)):
            self._versions[part] += 1

    def _write_chunk(
        self, tag: str, steps: np.ndarray, values: np.ndarray, walls: np.ndarray
    ) -> None:
        if len(steps) == 0:
            return
        steps = np.asarray(steps, dtype=schema.STEP_DTYPE)
        values = np.asarray(values, dtype=schema.VALUE_DTYPE)
        walls = np.asarray(walls, dtype=schema.WALL_DTYPE)
        self._note_step(int(steps.max()))
        self.con.execute(
            "INSERT INTO scalar_chunks (tag_id, first_step, last_step, n, steps, values_, walls,"
            " envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self._tag_id(tag),
                int(steps.min()),
                int(steps.max()),
                len(steps),
                steps.tobytes(),
                values.tobytes(),
                walls.tobytes(),
                envelope(steps, values, walls),
            ),
        )

    def _op_stats(self, step: int, rows: list[tuple[str, str, np.ndarray]]) -> None:
        self._note_step(step)
        q = (
            f"INSERT OR REPLACE INTO stats (layer_id, kind, step, {_STAT_COLS})"
            f" VALUES (?, ?, ?{', ?' * _NF})"
        )
        if not rows:
            return
        # One array for the step: a finiteness mask and tolist() over every value at once
        # (a per-value np.isfinite was most of the writer's time on small models).
        table = np.stack([np.asarray(vec, dtype=np.float64).reshape(-1) for *_, vec in rows])
        values: list[list[Any]] = table.tolist()
        bad = ~np.isfinite(table)
        for i, j in zip(*np.nonzero(bad), strict=True):
            values[i][j] = None
        self.con.executemany(q, [(self._layer_id(layer), kind, step, *v)
                                 for (layer, kind, _), v in zip(rows, values, strict=True)])

    def _op_hists(self, step: int, rows: list[tuple[str, str, float, float, np.ndarray]]) -> None:
        self.con.executemany(
            "INSERT OR REPLACE INTO histograms (layer_id, kind, step, lo, hi, counts)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    self._layer_id(layer),
                    kind,
                    step,
                    float(lo),
                    float(hi),
                    np.asarray(counts, dtype=schema.HIST_DTYPE).tobytes(),
                )
                for layer, kind, lo, hi, counts in rows
            ],
        )

    def _op_layers(self, layers: list[LayerInfo]) -> None:
        for info in layers:
            lid = self._layer_id(info.name)
            self.con.execute(
                "UPDATE layers SET type=?, family=?, ord=?, num_params=?, trainable_params=?,"
                " params=? WHERE id=?",
                (
                    info.type,
                    info.family,
                    info.order,
                    info.num_params,
                    info.trainable_params,
                    json.dumps(list(info.params)),
                    lid,
                ),
            )

    def _op_graph(self, graph: dict[str, Any]) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO graph (id, data) VALUES (1, ?)", (json.dumps(graph),)
        )

    def _op_finding(self, f: dict[str, Any], source: str, wall: float) -> None:
        self.con.execute(
            "INSERT INTO findings (source, code, severity, layer, step, message, suggestion,"
            " evidence, wall)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                source,
                f["code"],
                f["severity"],
                f.get("layer"),
                f.get("step"),
                f["message"],
                f.get("suggestion", ""),
                json.dumps(f.get("evidence", {}), default=float),
                wall,
            ),
        )

    def _op_event(
        self, kind: str, step: int | None, layer: str | None, data: dict, wall: float
    ) -> None:
        self.con.execute(
            "INSERT INTO events (step, kind, layer, data, wall) VALUES (?, ?, ?, ?, ?)",
            (step, kind, layer, json.dumps(data, default=float), wall),
        )

    def _op_artifact(self, name, kind, step, data, blobs, wall) -> None:  # noqa: ANN001
        cur = self.con.execute(
            "INSERT INTO artifacts (name, kind, step, wall, data) VALUES (?, ?, ?, ?, ?)",
            (name, kind, step, wall, json.dumps(data, default=float)),
        )
        self.con.executemany(
            "INSERT INTO artifact_blobs (artifact_id, key, mime, bytes) VALUES (?, ?, ?, ?)",
            [(cur.lastrowid, k, mime, bytes(b)) for k, (mime, b) in blobs.items()],
        )

    def _op_meta(self, values: dict[str, Any]) -> None:
        self._set_meta(values)

    def finish(self, status: str, error: str | None, ended_at: float | None = None,
               extra: dict[str, Any] | None = None) -> None:
        with self.con:
            ended = time.time() if ended_at is None else ended_at
            self._bump("meta")
            self._set_meta({**(extra or {}), "status": status, "ended_at": ended, "error": error,
                            "versions": self._versions})

    def close(self) -> None:
        try:
            # Without the two fsyncs (~20 ms of a short run's finish): like every write here,
            # safe against the process dying; an OS crash just after may damage the file.
            self.con.execute("PRAGMA synchronous=OFF")
            self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self.con.close()
