"""``/api/runs/{run_id}/stats``: per-layer statistics as a layer x step matrix or one series."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from deepscope.server.deps import Field, FieldList, Kind, LayerName, MaxPoints, MaxSteps, ReaderDep
from deepscope.server.schemas import ERROR_RESPONSES, StatMatrix, StatSeries

router = APIRouter(prefix="/api/runs/{run_id}/stats", tags=["stats"], responses=ERROR_RESPONSES)


@router.get("", response_model=StatMatrix)
def stat_matrix(reader: ReaderDep, kind: Kind, field: Field, max_steps: MaxSteps = 500) -> Any:
    """One statistic of every layer over (evenly thinned) sampled steps."""
    return reader.stat_matrix(kind, field, max_steps=max_steps).to_dict()


@router.get("/series", response_model=StatSeries)
def stat_series(
    reader: ReaderDep,
    layer: LayerName,
    kind: Kind,
    fields: FieldList = None,
    max_points: MaxPoints = 2000,
) -> Any:
    """All statistic fields (or ``fields=a,b``) of one layer and kind over sampled steps."""
    return reader.stat_series(layer, kind, fields, max_points=max_points).to_dict()
