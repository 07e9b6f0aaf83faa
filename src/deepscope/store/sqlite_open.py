"""Opening a run database for reading, deciding its status, and decoding what it stores.

* Read-only everywhere: ``mode=ro``; when the directory cannot be written (shared results, a
  read-only mount) and no writer can exist (no write-ahead log with content), ``immutable=1``,
  which needs no ``-shm`` file. A crashed run's log is still read through ``mode=ro``.
* Status: ``running`` is believed only while the writer's heartbeat is fresh (a container's PID 1
  is alive in every container) and, on the same host, its pid is alive.
* Every decode failure (bad JSON, a blob of the wrong size, a non-numeric schema version) is a
  :class:`~deepscope.errors.CorruptRunError` naming what could not be read.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np

from deepscope.errors import CorruptRunError, RunAccessError
from deepscope.store import schema

#: Seconds without a heartbeat after which a run written on this host is crashed (the writer
#: beats every 5 s even when training logs nothing).
HEARTBEAT_TIMEOUT = 60.0
#: The same for another host: larger, since the two clocks may disagree.
REMOTE_HEARTBEAT_TIMEOUT = 300.0


def _open(db: Path, immutable: bool) -> sqlite3.Connection:
    uri = db.resolve().as_uri() + ("?mode=ro&immutable=1" if immutable else "?mode=ro")
    con = sqlite3.connect(uri, uri=True, timeout=10, check_same_thread=False)
    try:
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error:
        con.close()
        raise
    return con


def _no_writer(db: Path) -> bool:
    """True when no process can be writing: the write-ahead log is absent or empty."""
    wal = db.with_name(db.name + "-wal")
    try:
        return wal.stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError:
        return False


def connect(db: Path) -> sqlite3.Connection:
    """A read-only connection to ``db`` (see the module docstring for the fallbacks)."""
    if not os.access(db, os.R_OK):
        raise RunAccessError(f"cannot read run {db.parent.name}: permission denied")
    try:
        return _open(db, immutable=False)
    except sqlite3.OperationalError as err:
        if "readonly" not in str(err) and "unable to open" not in str(err):
            raise
        if _no_writer(db):
            return _open(db, immutable=True)
        raise RunAccessError(
            f"cannot read run {db.parent.name}: its directory is not writable for this user "
            "and its writer has not finished (ask its owner, or copy the run)"
        ) from None


def load_json(text: Any, what: str, where: str) -> Any:
    """``json.loads`` whose failure names the run and the part that is damaged."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as err:
        raise CorruptRunError(f"run {where} is corrupt: unreadable {what} ({err})") from None


def frombuffer(blob: Any, dtype: str, what: str, where: str) -> np.ndarray:
    """``np.frombuffer`` whose failure (wrong size, not bytes) is a CorruptRunError."""
    try:
        return np.frombuffer(blob, dtype)
    except (TypeError, ValueError) as err:
        raise CorruptRunError(f"run {where} is corrupt: unreadable {what} ({err})") from None


def decode_chunks(
    rows: list[tuple[Any, ...]], what: str, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated ``(steps, values, walls)`` of scalar chunk rows; bad chunks are corrupt."""
    dtypes = (schema.STEP_DTYPE, schema.VALUE_DTYPE, schema.WALL_DTYPE)
    parts: list[list[np.ndarray]] = [[], [], []]
    for r in rows:
        arrays = [frombuffer(r[i], dt, what, where) for i, dt in enumerate(dtypes)]
        if len({len(a) for a in arrays}) != 1:
            raise CorruptRunError(f"run {where} is corrupt: {what} has columns of different "
                                  "lengths")
        for i, a in enumerate(arrays):
            parts[i].append(a)
    steps, vals, walls = (np.concatenate(p) if p else np.zeros(0, dt)
                          for p, dt in zip(parts, dtypes, strict=True))
    return steps, vals, walls


def opt_float(value: Any) -> float | None:
    """``float(value)``, keeping None."""
    return None if value is None else float(value)


def opt_int(value: Any) -> int | None:
    """``int(value)``, keeping None; a fractional float is an error, not a truncation."""
    if value is None:
        return None
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(value)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def run_status(meta: dict[str, Any], now: float | None = None) -> str:
    """``running``, ``finished`` or ``crashed``, judged from what the writer last recorded.

    Example:
        >>> run_status({"status": "running", "heartbeat": 0.0, "host": "x", "pid": 1})
        'crashed'

    """
    status = str(meta.get("status", "running"))
    if status != "running":
        return status
    now = time.time() if now is None else now
    beat = float(meta.get("heartbeat") or 0.0)
    local = meta.get("host") == socket.gethostname()
    if now - beat > (HEARTBEAT_TIMEOUT if local else REMOTE_HEARTBEAT_TIMEOUT):
        return "crashed"
    pid = meta.get("pid")
    if local and isinstance(pid, int) and pid > 0 and not _pid_alive(pid):
        return "crashed"
    return "running"
