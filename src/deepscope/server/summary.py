"""What the dashboard and the report say about a run, computed from its reader only.

No FastAPI here: the report builds the same shapes offline. Diagnosis results are cached per
``(run_id, data_version)`` so a list of runs does not re-diagnose unchanged runs, and the list
never waits for a diagnosis (it is computed in the background and announced over SSE).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from deepscope.errors import CorruptRunError, DeepscopeError, RunAccessError, RunVersionError
from deepscope.store.reader import RunReader

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "error")
FINDING_KEYS = ("code", "severity", "layer", "step", "message", "evidence", "suggestion")


def _diagnose_fn() -> Callable[..., Any] | None:
    # Diagnosis is optional at import time: without it the stored live findings are shown.
    try:
        from deepscope.diagnose import diagnose
    except ImportError:
        return None
    return diagnose


def diagnose_reader(reader: RunReader) -> dict[str, Any]:
    """``{"ok", "findings"}`` for one run: the diagnosis of its stored data.

    Falls back to the findings stored by live diagnosis when the diagnosis engine is missing.

    Example:
        >>> from deepscope.store import open_reader  # doctest: +SKIP
        >>> diagnose_reader(open_reader("deepscope-runs/x"))["ok"]  # doctest: +SKIP
        True

    """
    diagnose = _diagnose_fn()
    if diagnose is None:
        findings = [{k: f.get(k) for k in FINDING_KEYS} for f in reader.findings()]
        ok = not any(f["severity"] in ("warning", "error") for f in findings)
        return {"ok": ok, "findings": findings}
    result = diagnose(reader)
    return {"ok": bool(result.ok), "findings": [f.to_dict() for f in result.findings]}


def count_findings(findings: list[dict[str, Any]]) -> dict[str, int]:
    """Findings per severity, every severity present (zero when none)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        if f.get("severity") in counts:
            counts[f["severity"]] += 1
    return counts


class _Flight:
    """One diagnosis under way; requests for the same run and version wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: dict[str, Any] | None = None
        self.error: BaseException | None = None


class FindingsCache:
    """A small LRU of diagnoses keyed by ``(run_id, data_version)``; thread-safe.

    :meth:`get` diagnoses in the caller's thread, once per key however many requests ask at
    the same time (single flight), and at most :attr:`MAX_CONCURRENT` diagnoses at once (each
    holds a run's statistics in memory). A run that cannot be read is remembered as such
    (:meth:`failure`) instead of being retried on every listing. :meth:`counts` never waits:
    it answers from the cache or queues the run for a background worker (one daemon thread, so
    listing many large runs neither blocks a request nor a Ctrl-C), and
    :meth:`completed_after` tells event streams which diagnoses finished since they last looked.

    Example:
        >>> cache = FindingsCache(maxsize=8)
        >>> cache.get(reader)  # doctest: +SKIP
        {'ok': True, 'findings': []}

    """

    #: A run still being written changes version every flush; it is re-diagnosed at most this
    #: often (seconds), so a dashboard open during training does not keep a core busy.
    LIVE_INTERVAL = 10.0
    #: Diagnoses computed at the same time (each holds one run's statistics in memory).
    MAX_CONCURRENT = 2

    def __init__(self, maxsize: int = 64) -> None:
        self._items: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._latest: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._maxsize = maxsize
        self._queue: queue.Queue[tuple[str, str, tuple[str, int]]] = queue.Queue()
        self._pending: set[str] = set()
        self._worker: threading.Thread | None = None
        self._done: deque[tuple[int, str, dict[str, int]]] = deque(maxlen=1024)
        self._seq = 0
        self._flights: dict[tuple[str, int], _Flight] = {}
        self._failed: dict[str, tuple[int, str]] = {}
        self._slots = threading.BoundedSemaphore(self.MAX_CONCURRENT)

    @staticmethod
    def _key(reader: RunReader) -> tuple[str, int]:
        return (str(getattr(reader, "id", reader.path)), reader.data_version())

    def _cached(self, key: tuple[str, int], reader: RunReader) -> dict[str, Any] | None:
        """The diagnosis of this data version, or a recent one while the run is written."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            latest = self._latest.get(key[0])
        if latest is not None and time.monotonic() - latest[0] < self.LIVE_INTERVAL:
            if reader.meta().status == "running":
                return latest[1]
        return None

    def _store(self, key: tuple[str, int], value: dict[str, Any]) -> None:
        with self._lock:
            self._items[key] = value
            self._latest[key[0]] = (time.monotonic(), value)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)
            self._seq += 1
            self._done.append((self._seq, key[0], count_findings(value["findings"])))

    def get(self, reader: RunReader) -> dict[str, Any]:
        key = self._key(reader)
        value = self._cached(key, reader)
        if value is not None:
            return value
        with self._lock:
            flight = self._flights.get(key)
            owner = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not owner:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            assert flight.value is not None
            return flight.value
        try:
            with self._slots:
                flight.value = diagnose_reader(reader)
            self._store(key, flight.value)
            return flight.value
        except BaseException as err:
            flight.error = err
            if isinstance(err, (CorruptRunError, RunAccessError, RunVersionError)):
                with self._lock:
                    self._failed[key[0]] = (key[1], str(err))
            raise
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    def failure(self, reader: RunReader) -> str | None:
        """Why this run's current data could not be diagnosed (unreadable), or None."""
        key = self._key(reader)
        with self._lock:
            failed = self._failed.get(key[0])
        return failed[1] if failed is not None and failed[0] == key[1] else None

    def counts(self, reader: RunReader) -> dict[str, int] | None:
        """Finding counts of this data version if known; else the run's latest counts (or None)
        while a background diagnosis is queued.
        """
        key = self._key(reader)
        value = self._cached(key, reader)
        if value is not None:
            return count_findings(value["findings"])
        if self.failure(reader) is not None:
            return None
        with self._lock:
            if key[0] not in self._pending:
                self._pending.add(key[0])
                self._queue.put((key[0], reader.path, key))
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, daemon=True,
                                                name="deepscope-diagnose")
                self._worker.start()
            latest = self._latest.get(key[0])
        return None if latest is None else count_findings(latest[1]["findings"])

    def completed_after(self, seq: int) -> tuple[int, dict[str, dict[str, int]]]:
        """``(latest sequence number, {run_id: counts})`` of diagnoses finished after ``seq``."""
        with self._lock:
            return self._seq, {rid: c for n, rid, c in self._done if n > seq}

    def _work(self) -> None:
        from deepscope.store import open_reader

        while True:
            run_id, path, key = self._queue.get()
            try:
                with open_reader(path, run_id) as reader:
                    self.get(reader)
            except DeepscopeError as err:  # remembered by get(): the listing says unreadable
                log.warning("run %s cannot be diagnosed: %s", run_id, err)
            except Exception:  # noqa: BLE001 - a failing diagnosis must not kill the worker
                log.exception("diagnosis of run %s failed", run_id)
            finally:
                with self._lock:
                    self._pending.discard(run_id)


def run_summary(
    reader: RunReader, cache: FindingsCache | None = None, *, wait: bool = True
) -> dict[str, Any]:
    """``RunMeta.to_dict()`` plus finding counts per severity (one row of ``GET /api/runs``).

    With ``wait=False`` the counts are None until a background diagnosis has finished.
    """
    out = reader.meta().to_dict()
    if cache is not None and not wait:
        out["findings"] = cache.counts(reader)
        failure = cache.failure(reader)
        if failure is not None:  # readable metadata, unreadable data: never shown as healthy
            out.update(status="unreadable", error=failure)
    else:
        diagnosis = cache.get(reader) if cache is not None else diagnose_reader(reader)
        out["findings"] = count_findings(diagnosis["findings"])
    return out


def run_detail(
    reader: RunReader, cache: FindingsCache | None = None, *, wait: bool = True
) -> dict[str, Any]:
    """:func:`run_summary` plus ``tags``, number of ``layers`` and recorded ``kinds``."""
    out = run_summary(reader, cache, wait=wait)
    out["tags"] = reader.scalar_tags()
    out["layers"] = reader.num_layers()
    out["kinds"] = reader.stat_kinds()
    return out


def unreadable_summary(run_id: str, path: str, err: DeepscopeError) -> dict[str, Any]:
    """A list row for a run that cannot be opened: status ``unreadable`` and the one-line error."""
    return {
        "id": run_id, "name": run_id, "path": path, "status": "unreadable", "started_at": 0.0,
        "ended_at": None, "heartbeat": None, "config": {}, "host": "", "pid": None,
        "torch_version": "", "python_version": "", "git_commit": None, "deepscope_version": "",
        "schema_version": 0, "last_step": None, "error": str(err), "exit_code": None,
        "duration": None,
        "findings": dict.fromkeys(SEVERITIES, 0),
    }
