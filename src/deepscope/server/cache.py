"""Serialized answers of the data routes, cached per run data version.

A finished run's 1M-point tag or 200 x 1000 statistic matrix is read and encoded once; the key
holds the run's ``data_version`` (of the part the answer shows), so anything flushed since
gives a new key and stale answers are never served; a heartbeat alone changes nothing. Bounded by
total bytes (least recently used dropped first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from fastapi.responses import Response
from pydantic import BaseModel

from deepscope.store import RunReader

#: About what 30 cached 200 x 1000 matrices take as JSON.
DEFAULT_MAX_BYTES = 128 * 2**20


class ResponseCache:
    """LRU of JSON bodies keyed by ``(run id, data version, route key)``; thread-safe.

    Example:
        >>> cache = ResponseCache()
        >>> cache.json(reader, ("stats", "grad", "norm"), lambda: make_model())  # doctest: +SKIP
        <starlette.responses.Response object at ...>

    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def json(
        self,
        reader: RunReader,
        key: Hashable,
        build: Callable[[], BaseModel],
        part: str | None = None,
    ) -> Response:
        """The cached body for ``key`` at the run's current data version, else ``build()``'s.

        ``part`` keys the answer on that part's version only (see ``RunReader.data_version``):
        a live run logging scalars every second keeps its statistics answers cached.
        """
        return self.body(reader, key, lambda: build().model_dump_json().encode(),
                         "application/json", part)

    def body(
        self,
        reader: RunReader,
        key: Hashable,
        build: Callable[[], bytes],
        media_type: str,
        part: str | None = None,
    ) -> Response:
        """Like :meth:`json` for any encoding: ``build()`` returns the body bytes."""
        full = (str(getattr(reader, "id", reader.path)), reader.data_version(part), media_type,
                key)
        with self._lock:
            body = self._items.get(full)
            if body is not None:
                self._items.move_to_end(full)
                return Response(body, media_type=media_type)
            lock = self._building.setdefault(full, threading.Lock())
        # Single flight: concurrent requests for one cold answer build it once.
        with lock:
            with self._lock:
                body = self._items.get(full)
            if body is None:
                try:
                    body = build()
                    self._put(full, body)
                finally:
                    with self._lock:
                        self._building.pop(full, None)
        return Response(body, media_type=media_type)

    def _put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = body
            self._size += len(body)
            while self._size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)
