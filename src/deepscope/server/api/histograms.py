"""``/api/runs/{run_id}/histograms``: fixed-k histograms of one layer and kind over steps."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from deepscope.server.deps import Kind, LayerName, MaxSteps, ReaderDep
from deepscope.server.schemas import ERROR_RESPONSES, HistogramSeries

router = APIRouter(prefix="/api/runs/{run_id}/histograms", tags=["histograms"],
                   responses=ERROR_RESPONSES)


@router.get("", response_model=HistogramSeries)
def histograms(reader: ReaderDep, layer: LayerName, kind: Kind, max_steps: MaxSteps = 200) -> Any:
    """Histograms thinned evenly to ``max_steps`` steps (first and last kept)."""
    return reader.histograms(layer, kind, max_steps=max_steps).to_dict()
