"""Live updates: Server-Sent Events carrying the data version of every run under the root.

One :class:`VersionWatcher` per app polls the catalog and ``RunReader.data_version()`` at most
every ``min_interval`` seconds, whatever the number of connected clients. Each stream sends the
full map first, then only what changed (a removed run maps to ``null``), and a keep-alive comment
when idle. Streams end when the client goes away or the server stops (``stop`` is set by the
server's exit handler, so open streams never hold up Ctrl-C).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from deepscope.errors import DeepscopeError
from deepscope.server.summary import FindingsCache
from deepscope.store import open_reader
from deepscope.store.catalog import find_runs

#: Seconds between polls of the run versions (the dashboard promises new points within 2 s).
POLL_INTERVAL = 0.5
#: Seconds of silence after which a keep-alive comment is sent (proxies drop idle streams).
KEEPALIVE = 15.0


class VersionWatcher:
    """``{run_id: data_version}`` for every readable run under ``root``, shared by all streams.

    Example:
        >>> VersionWatcher("deepscope-runs").snapshot()  # doctest: +SKIP
        {'mlp-20261122-101500-ab12': 17000001763800000123}

    """

    def __init__(self, root: str | Path, min_interval: float = 0.4) -> None:
        self.root = Path(root)
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._at = -1e9
        self._last: dict[str, int] = {}
        #: Event streams open right now (each ends on client disconnect or server stop).
        self.streams = 0

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._at < self.min_interval:
                return self._last
            self._last = self._poll()
            self._at = time.monotonic()
            return self._last

    def _poll(self) -> dict[str, int]:
        if not self.root.is_dir():
            return {}
        versions: dict[str, int] = {}
        for run_id, path in find_runs(self.root, confined=True):
            try:
                with open_reader(path, run_id) as reader:
                    versions[run_id] = reader.data_version()
            except DeepscopeError:
                continue  # unreadable right now (being created, corrupt): not announced
        return versions


def format_event(event: str, data: object) -> str:
    r"""One SSE message.

    Example:
        >>> format_event("versions", {"a": 1})
        'event: versions\\ndata: {"a": 1}\\n\\n'

    """
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def diff_versions(old: dict[str, int], new: dict[str, int]) -> dict[str, int | None]:
    """Entries of ``new`` that differ from ``old``; runs gone from ``new`` map to None.

    Example:
        >>> diff_versions({"a": 1, "b": 2}, {"a": 1, "c": 3})
        {'c': 3, 'b': None}

    """
    changed: dict[str, int | None] = {k: v for k, v in new.items() if old.get(k) != v}
    changed.update({k: None for k in old if k not in new})
    return changed


async def version_stream(
    request: Request,
    watcher: VersionWatcher,
    stop: threading.Event,
    findings: FindingsCache | None = None,
    interval: float = POLL_INTERVAL,
    keepalive: float = KEEPALIVE,
) -> AsyncIterator[str]:
    """Yield SSE messages until the client disconnects or ``stop`` is set.

    Events: ``versions`` (see the module docstring) and ``findings`` ``{run_id: counts}`` when
    background diagnoses finish (all known counts right after connecting).
    """
    watcher.streams += 1
    try:
        async for message in _messages(request, watcher, stop, findings, interval, keepalive):
            yield message
    finally:
        watcher.streams -= 1


async def _messages(
    request: Request,
    watcher: VersionWatcher,
    stop: threading.Event,
    findings: FindingsCache | None,
    interval: float,
    keepalive: float,
) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    last: dict[str, int] | None = None
    seen = 0
    quiet_since = time.monotonic()
    while not stop.is_set():
        current = await run_in_threadpool(watcher.snapshot)
        changed = current if last is None else diff_versions(last, current)
        sent = False
        if last is None or changed:
            yield format_event("versions", changed)
            sent = True
        if findings is not None:
            seen, counts = findings.completed_after(seen)
            if counts:
                yield format_event("findings", counts)
                sent = True
        if sent:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= keepalive:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        last = current
        if await request.is_disconnected():
            return
        await asyncio.sleep(interval)
