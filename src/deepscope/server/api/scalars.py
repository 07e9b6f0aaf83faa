"""``/api/runs/{run_id}/scalars``: logged scalar tags and their downsampled series."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from deepscope.errors import InvalidArgumentError
from deepscope.server import schemas
from deepscope.server.deps import CacheDep, MaxPoints, ReaderDep, StepBound, Tag
from deepscope.server.schemas import ERROR_RESPONSES, ScalarSeries, TagList

router = APIRouter(prefix="/api/runs/{run_id}/scalars", tags=["scalars"],
                   responses=ERROR_RESPONSES)


@router.get("", response_model=TagList)
def list_tags(reader: ReaderDep) -> dict[str, list[str]]:
    """Scalar tags, sorted."""
    return {"tags": reader.scalar_tags()}


@router.get("/series", response_model=ScalarSeries)
def scalar_series(
    reader: ReaderDep,
    cache: CacheDep,
    tag: Tag,
    max_points: MaxPoints = 2000,
    start: StepBound = None,
    end: StepBound = None,
) -> Response:
    """One tag within ``[start, end]``, min/max-preserving downsampled to ``max_points``."""
    if start is not None and end is not None and start > end:
        raise InvalidArgumentError(f"start ({start}) is after end ({end})")
    key = ("scalars", tag, max_points, start, end)
    return cache.json(reader, key, lambda: schemas.scalar_series(
        reader.scalars(tag, max_points=max_points, start=start, end=end)), part="scalars")
