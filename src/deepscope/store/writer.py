"""Background batching writer: the training thread only appends to a queue (and to a list per
scalar name).

A daemon thread drains the queue and commits one transaction at least every ``flush_interval``
seconds (default 1 s), so a ``kill -9`` loses at most the last second. ``flush()`` blocks until
everything queued so far is on disk; ``close()`` flushes and records the final status.
"""

from __future__ import annotations

import array
import atexit
import collections
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from deepscope.store.records import LayerInfo
from deepscope.store.rundir import new_run_dir
from deepscope.store.sqlite_sink import SqliteSink

#: Seconds a flush or close waits before it says it is still writing (then goes on waiting).
SLOW_CLOSE_S = 10.0
_FLUSH = object()
_STOP = object()
#: Steps up to this go into the float64 point columns exactly; larger ones take the item queue.
EXACT_STEP = 2**53


class RunWriter:
    """Write one run. Thread-safe; all methods return immediately except ``flush``/``close``.

    Example:
        >>> from deepscope.store.writer import RunWriter  # doctest: +SKIP
        >>> w = RunWriter("runs/x", meta={"name": "x", "config": {}})  # doctest: +SKIP
        >>> w.log_scalars(0, {"train/loss": 1.0}); w.close()  # doctest: +SKIP

    """

    def __init__(self, path: str | Path, meta: Mapping[str, Any], flush_interval: float = 1.0):
        self.path = Path(path)
        self._sink = SqliteSink(self.path, dict(meta))
        # A deque, not queue.Queue: append is atomic and ~5x cheaper than Queue.put (measured:
        # Queue.put was 44% of a run.log call); the thread wakes on a timer or an explicit event.
        self._items: collections.deque[Any] = collections.deque()
        # run.log points go into one flat list per tag, step, value and wall time in turn:
        # queued tuples and dicts were objects the garbage collector scanned over and over while
        # they waited for the writer (2.6 us of a 5.5 us log call). Extending a list by a tuple
        # is one C call (24 ns; an array.array takes 330 ns for it) and its ints and floats are
        # not tracked by the collector; the writer takes a list's points with one slice.
        self.points: dict[str, list[float]] = {}  # run.log appends to known names directly
        self._wake = threading.Event()
        self._interval = flush_interval
        self._closed = False
        self._pid = os.getpid()  # a forked child (DataLoader worker) never writes this run
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="deepscope-writer", daemon=True)
        self._thread.start()
        ref = weakref.ref(self)
        self._atexit = lambda: (w := ref()) is not None and w._exit_flush()
        atexit.register(self._atexit)

    @classmethod
    def create(
        cls,
        root: str | Path,
        name: str,
        meta: Mapping[str, Any],
        flush_interval: float = 1.0,
        started: float | None = None,
    ) -> RunWriter:
        """A writer for a brand-new run directory under ``root`` (see :mod:`~.rundir`).

        Example:
            >>> w = RunWriter.create("deepscope-runs", "cnn", {"name": "cnn"})  # doctest: +SKIP
            >>> w.path.name  # doctest: +SKIP
            'cnn-20261122-101500-3fa9c1'

        """
        path = new_run_dir(root, name, started=started)
        return cls(path, meta, flush_interval=flush_interval)

    # -- producers -------------------------------------------------------------------------
    def log_scalars(
        self, step: int, values: Mapping[str, float], wall: float | None = None
    ) -> None:
        """Queue scalar values for one step."""
        wall = time.time() if wall is None else wall
        self._put(("scalars", int(step), wall, {str(k): float(v) for k, v in values.items()}))

    def log_clean_scalars(self, step: int, values: Mapping[str, float]) -> None:
        """:meth:`log_scalars` for callers that already hold ``{str: float}`` and an int step
        in ``[0, 2**63)`` (the hot path: ``run.log``). ``values`` is copied, not kept.
        """
        if self._closed:
            return
        wall = time.time()
        if step > EXACT_STEP:
            self._items.append(("scalars", step, wall, dict(values)))
            return
        points = self.points
        for tag, v in values.items():
            column = points.get(tag)
            if column is None:
                column = points.setdefault(tag, [])  # atomic: threads may race here
            column.extend((step, v, wall))  # one C call: a point is never half written

    def log_scalar_arrays(
        self, tag: str, steps: np.ndarray, values: np.ndarray, walls: np.ndarray
    ) -> None:
        """Queue many points of one tag at once (importers, benchmarks)."""
        self._put(("scalar_arrays", tag, np.asarray(steps), np.asarray(values), np.asarray(walls)))

    def log_stats(self, step: int, rows: Iterable[tuple[str, str, np.ndarray]]) -> None:
        """Queue ``(layer, kind, vector in STAT_FIELDS order)`` rows for one step."""
        self._put(("stats", int(step), list(rows)))

    def log_histograms(
        self, step: int, rows: Iterable[tuple[str, str, float, float, np.ndarray]]
    ) -> None:
        """Queue ``(layer, kind, lo, hi, counts)`` rows for one step."""
        self._put(("hists", int(step), list(rows)))

    def log_transformer(self, step: int, heads: list[Any], blocks: list[Any],
                        outputs: list[Any], patterns: list[Any]) -> None:
        """Queue one sampled step of the transformer capture (see ``store/sqlite_transformer``):
        per-head rows, per-block rows, output rows and probe attention patterns.
        """
        self._put(("transformer", int(step), heads, blocks, outputs, patterns))

    def set_layers(self, layers: Iterable[LayerInfo]) -> None:
        """Record (or update) the watched layers."""
        self._put(("layers", list(layers)))

    def set_graph(self, graph: Mapping[str, Any]) -> None:
        """Store the architecture graph (``Graph.to_dict()``)."""
        self._put(("graph", dict(graph)))

    def add_finding(self, finding: Mapping[str, Any], source: str = "live") -> None:
        """Store a finding dict (code, severity, layer, step, message, suggestion, evidence)."""
        self._put(("finding", dict(finding), source, time.time()))

    def add_event(
        self, kind: str, step: int | None, layer: str | None, data: Mapping[str, Any]
    ) -> None:
        """Store an event such as the first non-finite value."""
        self._put(("event", kind, step, layer, dict(data), time.time()))

    def add_artifact(
        self,
        name: str,
        kind: str,
        data: Mapping[str, Any],
        blobs: Mapping[str, tuple[str, bytes]] | None = None,
        step: int | None = None,
    ) -> None:
        """Store an explain result: JSON ``data`` plus binary ``blobs`` ``{key: (mime, bytes)}``."""
        self._put(("artifact", name, kind, step, dict(data), dict(blobs or {}), time.time()))

    def update_meta(self, **values: Any) -> None:
        """Set metadata keys (JSON-able values)."""
        self._put(("meta", values))

    # -- control ---------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued before this call is committed (at most ``timeout``
        seconds, saying so if it is not; without one, until it is).
        """
        if self._closed or os.getpid() != self._pid:
            return
        done = threading.Event()
        start = time.monotonic()
        self._items.append((_FLUSH, done))
        self._wake.set()
        first = SLOW_CLOSE_S if timeout is None else min(timeout, SLOW_CLOSE_S)
        if not done.wait(first) and self._thread.is_alive():
            print(f"deepscope: still writing {len(self._items)} queued items to {self.path}",
                  file=sys.stderr, flush=True)
            while not done.wait(1.0) and self._thread.is_alive():
                if timeout is not None and time.monotonic() - start > timeout:
                    break
        self._raise_if_failed()

    def close(
        self,
        status: str = "finished",
        error: str | None = None,
        ended_at: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Flush, record the final status, end time and ``extra`` metadata, stop the thread.

        Idempotent.
        """
        if self._closed or os.getpid() != self._pid:
            return
        # STOP goes in before the flag: a signal handler that sees the flag knows the final
        # status is already queued and only has to wait (see wait_closed).
        self._items.append((_STOP, status, error, ended_at, dict(extra or {})))
        self._closed = True
        self._wake.set()
        self._join_patiently()
        atexit.unregister(self._atexit)
        self._raise_if_failed()

    def _join_patiently(self) -> None:
        """Wait for the thread to write everything: on a starved machine that can take long,
        and returning early would lose the rows still queued (the thread is a daemon).
        """
        self._thread.join(timeout=SLOW_CLOSE_S)
        if self._thread.is_alive():
            print(f"deepscope: still writing {len(self._items)} queued items to {self.path} "
                  "(waiting for them)", file=sys.stderr, flush=True)
            self._thread.join()

    @property
    def closed(self) -> bool:
        return self._closed

    def wait_closed(self, timeout: float = 30.0) -> None:
        """Wait until a close() already under way has written its final status."""
        if self._closed and os.getpid() == self._pid:
            self._thread.join(timeout)

    # -- internals -------------------------------------------------------------------------
    def _put(self, item: tuple[Any, ...]) -> None:
        if self._closed:
            return
        self._items.append(item)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            from deepscope.errors import DeepscopeError

            raise DeepscopeError(f"run writer failed: {self._error}")

    def _exit_flush(self) -> None:
        # Interpreter exit without finish(): keep the data, call the run finished only if a Run
        # said so; otherwise leave "running" so the reader reports it as crashed via the dead pid.
        if not self._closed:
            self.flush(timeout=30)

    def _gather(self) -> tuple[list[Any], list[threading.Event], tuple[Any, ...] | None]:
        """Sleep up to one interval (less when flushed or stopped), then take what is queued."""
        self._wake.wait(self._interval)
        self._wake.clear()
        batch: list[Any] = []
        waiters: list[threading.Event] = []
        stop = None
        while stop is None:
            try:
                item = self._items.popleft()
            except IndexError:
                break
            stop = self._sort(item, batch, waiters)
        self._take_points(batch)  # after the markers: points logged before a flush are in
        return batch, waiters, stop

    def _take_points(self, batch: list[Any]) -> None:
        """Move every tag's queued points into ``batch`` as one ``scalar_arrays`` item.

        A slice and a deletion of the same prefix, each one C call under the GIL: a point the
        training thread appends in between stays for the next batch.
        """
        for tag, column in self.points.copy().items():
            n = len(column)
            if n == 0:
                continue
            taken = column[:n]
            del column[:n]
            # array.array converts a list of floats in half the time np.array takes (57 ms
            # against 115 ms for 3M values); steps < 2**53 are exact as doubles.
            flat = np.frombuffer(array.array("d", taken), dtype=np.float64)
            cols = flat.reshape(-1, 3).T.copy()  # rows of a C-ordered copy: contiguous
            batch.append(("scalar_arrays", tag, cols[0].astype(np.int64), cols[1], cols[2]))

    @staticmethod
    def _sort(item: Any, batch: list[Any], waiters: list[threading.Event]) -> Any:
        if item[0] is _FLUSH:
            waiters.append(item[1])
        elif item[0] is _STOP:
            return item
        else:
            batch.append(item)
        return None

    def _loop(self) -> None:
        _lower_priority()
        last_heartbeat = 0.0
        while True:
            batch, waiters, stop = self._gather()
            now = time.time()
            try:
                if batch or now - last_heartbeat > 5 or stop is not None:
                    self._sink.write_batch(batch, heartbeat=now)
                    last_heartbeat = now
                if stop is not None:
                    self._sink.finish(stop[1], stop[2], stop[3], stop[4])
            except BaseException as err:  # noqa: BLE001 - reported to the training thread
                self._error = err
            for w in waiters:
                w.set()
            if stop is not None:
                self._sink.close()
                return


def _lower_priority() -> None:
    """Run the writer thread at a lower CPU priority than training (Linux: per-thread nice).

    On a machine whose cores the training already uses, encoding and committing a step's rows
    then waits for idle time instead of taking a core from the training thread.
    """
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + 10, 19))
    except (AttributeError, OSError):  # not Linux, or not allowed: normal priority
        pass


class NullWriter:
    """The writer of a run that another process writes (``torch.distributed`` ranks > 0).

    Every call is accepted and dropped, so training code runs unchanged on every rank.
    """

    closed = False
    points: Mapping[str, Any] = MappingProxyType({})  # no name ever gets a column here

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _drop

    def close(self, *args: Any, **kwargs: Any) -> None:
        self.closed = True


def _drop(*args: Any, **kwargs: Any) -> None:
    return None
