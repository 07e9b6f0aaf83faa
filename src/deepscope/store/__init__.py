"""Run storage: the writer, the read contract and its SQLite implementation."""

from __future__ import annotations

from pathlib import Path

from deepscope.store.reader import RunReader
from deepscope.store.sqlite import SqliteRunReader


def open_reader(path: str | Path, run_id: str | None = None) -> RunReader:
    """Open a run directory for reading (raises ``RunNotFoundError`` / ``CorruptRunError``)."""
    return SqliteRunReader(path, run_id)


__all__ = ["RunReader", "open_reader"]
