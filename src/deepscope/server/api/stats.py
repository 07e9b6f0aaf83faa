"""``/api/runs/{run_id}/stats``: per-layer statistics as a layer x step matrix or one series."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from deepscope.server import schemas
from deepscope.server.deps import (
    CacheDep,
    Field,
    FieldList,
    Kind,
    LayerName,
    MaxPoints,
    MaxSteps,
    ReaderDep,
)
from deepscope.server.schemas import ERROR_RESPONSES, StatMatrix, StatSeries

router = APIRouter(prefix="/api/runs/{run_id}/stats", tags=["stats"], responses=ERROR_RESPONSES)


@router.get("", response_model=StatMatrix)
def stat_matrix(
    reader: ReaderDep, cache: CacheDep, kind: Kind, field: Field, max_steps: MaxSteps = 500
) -> Response:
    """One statistic of every layer over (evenly thinned) sampled steps."""
    return cache.json(reader, ("stats", kind, field, max_steps), lambda: schemas.stat_matrix(
        reader.stat_matrix(kind, field, max_steps=max_steps)), part="stats")


@router.get("/series", response_model=StatSeries)
def stat_series(
    reader: ReaderDep,
    cache: CacheDep,
    layer: LayerName,
    kind: Kind,
    fields: FieldList = None,
    max_points: MaxPoints = 2000,
) -> Response:
    """All statistic fields (or ``fields=a,b``) of one layer and kind over sampled steps."""
    key = ("stat_series", layer, kind, tuple(fields or ()), max_points)
    return cache.json(reader, key, lambda: schemas.stat_series(
        reader.stat_series(layer, kind, fields, max_points=max_points)), part="stats")
