"""``/api/runs``: every run under the root, and one run in more detail."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from deepscope.errors import DeepscopeError
from deepscope.server.deps import ReaderDep, SettingsDep
from deepscope.server.schemas import ERROR_RESPONSES, RunDetail, RunSummary
from deepscope.server.summary import run_detail, run_summary, unreadable_summary
from deepscope.store import open_reader
from deepscope.store.catalog import find_runs

router = APIRouter(prefix="/api/runs", tags=["runs"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[RunSummary])
def list_runs(settings: SettingsDep) -> list[dict[str, Any]]:
    """Every run under the root (sorted by id); unreadable runs have status ``unreadable``.

    ``findings`` is null until the run's diagnosis, started in the background, has finished
    (announced by the ``findings`` event of ``/api/events``).
    """
    if not settings.root.is_dir():
        return []
    out = []
    for run_id, path in find_runs(settings.root, confined=True):
        try:
            with open_reader(path, run_id) as reader:
                out.append(run_summary(reader, settings.findings, wait=False))
        except DeepscopeError as err:
            out.append(unreadable_summary(run_id, str(path), err))
    return out


@router.get("/{run_id}", response_model=RunDetail)
def get_run(reader: ReaderDep, settings: SettingsDep) -> dict[str, Any]:
    """One run: metadata, finding counts, scalar tags, number of layers, statistic kinds."""
    return run_detail(reader, settings.findings, wait=False)
