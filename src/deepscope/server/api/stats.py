"""``/api/runs/{run_id}/stats``: per-layer statistics as a layer x step matrix or one series."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from deepscope.server import binary, schemas
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


MatrixFormat = Annotated[Literal["json", "binary"], Query(
    description="json: StatMatrix; binary: the compact form of deepscope.server.binary "
                "(float32 where lossless, +-Inf kept), what the dashboard asks for")]

_BINARY = {200: {"content": {binary.MEDIA_TYPE: {}},
                 "description": "StatMatrix as JSON, or binary with format=binary"}}


@router.get("", response_model=StatMatrix, responses=_BINARY)
def stat_matrix(
    reader: ReaderDep,
    cache: CacheDep,
    kind: Kind,
    field: Field,
    max_steps: MaxSteps = 500,
    format: MatrixFormat = "json",  # noqa: A002 - the query parameter's name
) -> Response:
    """One statistic of every layer over (evenly thinned) sampled steps."""
    key = ("stats", kind, field, max_steps)
    read = lambda: reader.stat_matrix(kind, field, max_steps=max_steps)  # noqa: E731
    if format == "binary":
        return cache.body(reader, key, lambda: binary.encode_matrix(read()), binary.MEDIA_TYPE,
                          part="stats")
    return cache.json(reader, key, lambda: schemas.stat_matrix(read()), part="stats")


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
