"""``/api/runs/{run_id}/graph``: the stored architecture graph."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from deepscope.errors import NotRecordedError
from deepscope.server.deps import ReaderDep
from deepscope.server.schemas import ERROR_RESPONSES

router = APIRouter(prefix="/api/runs/{run_id}/graph", tags=["graph"], responses=ERROR_RESPONSES)


@router.get("", response_model=dict[str, Any])
def graph(reader: ReaderDep) -> dict[str, Any]:
    """``Graph.to_dict()``; 404 when the run stored no graph."""
    data = reader.graph()
    if data is None:
        raise NotRecordedError(
            f"no architecture graph in run {reader.meta().id} (recorded by run.watch(model))"
        )
    return data
