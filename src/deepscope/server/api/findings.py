"""``/api/runs/{run_id}/findings``: the diagnosis of the stored data, cached per data version."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from deepscope.server.deps import ReaderDep, SettingsDep
from deepscope.server.schemas import ERROR_RESPONSES, Findings

router = APIRouter(prefix="/api/runs/{run_id}/findings", tags=["findings"],
                   responses=ERROR_RESPONSES)


@router.get("", response_model=Findings)
def findings(reader: ReaderDep, settings: SettingsDep) -> dict[str, Any]:
    """``{"ok", "findings"}``; recomputed only when the run's data version changes."""
    return settings.findings.get(reader)
