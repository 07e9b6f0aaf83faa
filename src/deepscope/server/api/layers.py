"""``/api/runs/{run_id}/layers``: the watched modules in forward order."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from deepscope.server import schemas
from deepscope.server.deps import CacheDep, ReaderDep
from deepscope.server.schemas import ERROR_RESPONSES, Layer

router = APIRouter(prefix="/api/runs/{run_id}/layers", tags=["layers"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[Layer])
def list_layers(reader: ReaderDep, cache: CacheDep) -> Response:
    """Watched layers with their parameters."""
    return cache.json(reader, ("layers",), lambda: schemas.layer_list(reader.layers()),
                      part="stats")
