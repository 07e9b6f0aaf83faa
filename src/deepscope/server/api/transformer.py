"""``/api/runs/{run_id}/transformer``: attention heads, residual blocks, output logits, patterns."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from deepscope.server import schemas
from deepscope.server.deps import CacheDep, MaxPoints, MaxSteps, ReaderDep, check_name
from deepscope.server.schemas import ERROR_RESPONSES, StatMatrix
from deepscope.server.transformer_schemas import (
    AttentionPattern,
    HeadMatrix,
    OutputSeries,
    TransformerInfo,
    build,
)
from deepscope.store.schema import BLOCK_FIELDS, HEAD_FIELDS

router = APIRouter(prefix="/api/runs/{run_id}/transformer", tags=["transformer"],
                   responses=ERROR_RESPONSES)

HeadField = Annotated[Literal[HEAD_FIELDS], Query(description="head statistic")]  # type: ignore[valid-type]
BlockField = Annotated[Literal[BLOCK_FIELDS], Query(description="block statistic")]  # type: ignore[valid-type]


@router.get("", response_model=TransformerInfo)
def info(reader: ReaderDep, cache: CacheDep) -> Response:
    """The attention modules, residual blocks and outputs the capture recognised."""
    return cache.json(reader, ("transformer",), lambda: build(TransformerInfo,
                                                              reader.transformer_info()))


@router.get("/heads", response_model=HeadMatrix)
def head_matrix(reader: ReaderDep, cache: CacheDep, field: HeadField = "entropy_mean",
                max_steps: MaxSteps = 500) -> Response:
    """One per-head statistic of every attention module over (evenly thinned) sampled steps."""
    return cache.json(reader, ("heads", field, max_steps), lambda: build(
        HeadMatrix, reader.head_matrix(field, max_steps=max_steps)), part="stats")


@router.get("/blocks", response_model=StatMatrix)
def block_matrix(reader: ReaderDep, cache: CacheDep, field: BlockField = "norm",
                 max_steps: MaxSteps = 500) -> Response:
    """One residual-stream statistic of every block over sampled steps (``kind`` = block)."""
    return cache.json(reader, ("blocks", field, max_steps), lambda: schemas.stat_matrix(
        reader.block_matrix(field, max_steps=max_steps)), part="stats")


@router.get("/output", response_model=OutputSeries)
def output(reader: ReaderDep, cache: CacheDep,
           watch: Annotated[str | None, Query(max_length=512)] = None,
           max_points: MaxPoints = 2000) -> Response:
    """Output-logit statistics (max logit, log-partition) of one watch over sampled steps."""
    name = None if watch is None else check_name("watch", watch)
    return cache.json(reader, ("output", name, max_points), lambda: build(
        OutputSeries, reader.output_series(name, max_points=max_points)), part="stats")


@router.get("/pattern", response_model=AttentionPattern)
def pattern(reader: ReaderDep, cache: CacheDep,
            module: Annotated[str, Query(min_length=1, max_length=512)],
            head: Annotated[int, Query(ge=0, le=4096)] = 0,
            step: Annotated[int | None, Query(ge=0, le=2**62)] = None) -> Response:
    """The probe batch's attention pattern of one head at the stored step nearest ``step``."""
    name = check_name("module", module)
    return cache.json(reader, ("pattern", name, head, step), lambda: build(
        AttentionPattern, reader.attention_pattern(name, step, head)), part="stats")
