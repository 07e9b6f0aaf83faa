"""Dependencies shared by the routers: settings, validated run readers and query parameters.

Every path or query value a client sends is checked here before it reaches a reader: run ids go
through :func:`~deepscope.store.catalog.resolve_run_id` (no traversal outside the root), kinds
and fields must be known names, names are bounded and free of control characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam

from deepscope.errors import InvalidArgumentError
from deepscope.server.cache import ResponseCache
from deepscope.server.summary import FindingsCache
from deepscope.store import RunReader, open_reader
from deepscope.store.catalog import resolve_run_id
from deepscope.store.schema import STAT_FIELDS, STAT_KINDS

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 512


@dataclass
class Settings:
    """What one app serves: the root directory of runs and the optional access token."""

    root: Path
    token: str | None = None
    static_dir: Path | None = None
    findings: FindingsCache = field(default_factory=FindingsCache)
    responses: ResponseCache = field(default_factory=ResponseCache)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_response_cache(request: Request) -> ResponseCache:
    return request.app.state.settings.responses


CacheDep = Annotated[ResponseCache, Depends(get_response_cache)]


def get_reader(
    run_id: Annotated[str, PathParam(max_length=MAX_NAME, description="id from GET /api/runs")],
    settings: SettingsDep,
) -> Iterator[RunReader]:
    """Open the run named by the path's ``run_id`` for one request, and close it afterwards."""
    path = resolve_run_id(settings.root, run_id)
    reader = open_reader(path, run_id)
    try:
        yield reader
    finally:
        reader.close()


ReaderDep = Annotated[RunReader, Depends(get_reader)]


def check_name(what: str, value: str) -> str:
    """``value`` if it is a usable tag or layer name: bounded, no control characters."""
    if len(value) > MAX_NAME or _CONTROL.search(value):
        raise InvalidArgumentError(
            f"invalid {what} {value[:80]!r}: at most {MAX_NAME} printable characters"
        )
    return value


def tag_query(tag: Annotated[str, Query(min_length=1, description="scalar tag")]) -> str:
    return check_name("tag", tag)


def layer_query(layer: Annotated[str, Query(min_length=1, description="layer name")]) -> str:
    return check_name("layer", layer)


Tag = Annotated[str, Depends(tag_query)]
LayerName = Annotated[str, Depends(layer_query)]
Kind = Annotated[Literal[STAT_KINDS], Query(description="statistic kind")]  # type: ignore[valid-type]
Field = Annotated[Literal[STAT_FIELDS], Query(description="statistic field")]  # type: ignore[valid-type]
MaxPoints = Annotated[int, Query(ge=1, le=100_000, description="downsample to at most this many")]
MaxSteps = Annotated[int, Query(ge=1, le=100_000, description="thin to at most this many steps")]
StepBound = Annotated[int | None, Query(ge=-(2**62), le=2**62)]


def parse_fields(
    fields: Annotated[str | None, Query(description="comma-separated statistic fields")] = None,
) -> list[str] | None:
    """``fields=mean,std`` -> ``["mean", "std"]``; unknown names are a 400."""
    if fields is None:
        return None
    names = [f.strip() for f in fields.split(",") if f.strip()]
    bad = [f for f in names if f not in STAT_FIELDS]
    if bad or not names:
        raise InvalidArgumentError(
            f"unknown statistic field {(bad or [fields])[0][:40]!r}; "
            f"expected one of {', '.join(STAT_FIELDS)}"
        )
    return names


FieldList = Annotated[list[str] | None, Depends(parse_fields)]
