"""What the dashboard and the report say about a run, computed from its reader only.

No FastAPI here: the report builds the same shapes offline. Diagnosis results are cached per
``(run_id, data_version)`` so a list of runs does not re-diagnose unchanged runs.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from deepscope.errors import DeepscopeError
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


class FindingsCache:
    """A small LRU of diagnoses keyed by ``(run_id, data_version)``; thread-safe.

    Example:
        >>> cache = FindingsCache(maxsize=8)
        >>> cache.get(reader)  # doctest: +SKIP
        {'ok': True, 'findings': []}

    """

    def __init__(self, maxsize: int = 64) -> None:
        self._items: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get(self, reader: RunReader) -> dict[str, Any]:
        key = (str(getattr(reader, "id", reader.path)), reader.data_version())
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = diagnose_reader(reader)
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)
        return value


def run_summary(reader: RunReader, cache: FindingsCache | None = None) -> dict[str, Any]:
    """``RunMeta.to_dict()`` plus finding counts per severity (one row of ``GET /api/runs``)."""
    out = reader.meta().to_dict()
    diagnosis = cache.get(reader) if cache is not None else diagnose_reader(reader)
    out["findings"] = count_findings(diagnosis["findings"])
    return out


def run_detail(reader: RunReader, cache: FindingsCache | None = None) -> dict[str, Any]:
    """:func:`run_summary` plus ``tags``, number of ``layers`` and recorded ``kinds``."""
    out = run_summary(reader, cache)
    out["tags"] = reader.scalar_tags()
    out["layers"] = len(reader.layers())
    out["kinds"] = reader.stat_kinds()
    return out


def unreadable_summary(run_id: str, path: str, err: DeepscopeError) -> dict[str, Any]:
    """A list row for a run that cannot be opened: status ``unreadable`` and the one-line error."""
    return {
        "id": run_id, "name": run_id, "path": path, "status": "unreadable", "started_at": 0.0,
        "ended_at": None, "heartbeat": None, "config": {}, "host": "", "pid": None,
        "torch_version": "", "python_version": "", "git_commit": None, "deepscope_version": "",
        "schema_version": 0, "last_step": None, "error": str(err), "duration": None,
        "findings": dict.fromkeys(SEVERITIES, 0),
    }
