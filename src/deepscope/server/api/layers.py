"""``/api/runs/{run_id}/layers``: the watched modules in forward order."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from deepscope.server.deps import ReaderDep
from deepscope.server.schemas import ERROR_RESPONSES, Layer

router = APIRouter(prefix="/api/runs/{run_id}/layers", tags=["layers"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[Layer])
def list_layers(reader: ReaderDep) -> list[dict[str, Any]]:
    """Watched layers with their parameters."""
    return [layer.to_dict() for layer in reader.layers()]
