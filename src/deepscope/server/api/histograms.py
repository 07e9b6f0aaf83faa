"""``/api/runs/{run_id}/histograms``: fixed-k histograms of one layer and kind over steps."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from deepscope.server import schemas
from deepscope.server.deps import CacheDep, Kind, LayerName, MaxSteps, ReaderDep
from deepscope.server.schemas import ERROR_RESPONSES, HistogramSeries

router = APIRouter(prefix="/api/runs/{run_id}/histograms", tags=["histograms"],
                   responses=ERROR_RESPONSES)


@router.get("", response_model=HistogramSeries)
def histograms(
    reader: ReaderDep, cache: CacheDep, layer: LayerName, kind: Kind, max_steps: MaxSteps = 200
) -> Response:
    """Histograms thinned evenly to ``max_steps`` steps (first and last kept)."""
    return cache.json(reader, ("histograms", layer, kind, max_steps), lambda: (
        schemas.histogram_series(reader.histograms(layer, kind, max_steps=max_steps))),
        part="histograms")
