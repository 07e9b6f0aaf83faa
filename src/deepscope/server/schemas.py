"""Wire models of the HTTP API (pydantic), kept apart from the store records.

Each model mirrors the ``to_dict()`` of a record in :mod:`deepscope.store.records` (or
``Finding.to_dict()`` / ``Graph.to_dict()``); the OpenAPI schema the web client is typed from is
generated from these. JSON has no NaN: missing values are ``null``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, RootModel

Severity = Literal["info", "warning", "error"]


class Health(BaseModel):
    """``GET /api/health``."""

    status: Literal["ok"]
    version: str


class FindingCounts(BaseModel):
    """Findings of a run per severity."""

    info: int
    warning: int
    error: int


class RunSummary(BaseModel):
    """``RunMeta.to_dict()`` + finding counts; ``status`` adds ``unreadable`` (see ``error``)."""

    id: str
    name: str
    path: str
    status: str
    started_at: float
    ended_at: float | None
    heartbeat: float | None
    config: dict[str, Any]
    host: str
    pid: int | None
    torch_version: str
    python_version: str
    git_commit: str | None
    deepscope_version: str
    schema_version: int
    last_step: int | None
    error: str | None
    #: The writing process's exit status when it ended through ``sys.exit`` or a signal.
    exit_code: int | None = None
    duration: float | None
    #: ``run.watch`` calls by watch name (``""`` for an unnamed watch).
    watches: dict[str, Any] = {}
    #: Null while the diagnosis is still running in the background (see ``GET /api/events``).
    findings: FindingCounts | None


class RunDetail(RunSummary):
    """One run: the summary plus its scalar tags, number of layers and recorded statistic kinds."""

    tags: list[str]
    layers: int
    kinds: list[str]


class TagList(BaseModel):
    """Scalar tags of a run, sorted."""

    tags: list[str]


class ScalarSeries(BaseModel):
    """One scalar tag, min/max-preserving downsampled; ``total_points`` before downsampling."""

    model_config = ConfigDict(ser_json_inf_nan="null")

    tag: str
    steps: list[int]
    values: list[float | None]
    walls: list[float]
    total_points: int
    downsampled: bool


class LayerParam(BaseModel):
    """One direct parameter of a layer (``in_optimizer`` is null when no optimizer was given)."""

    model_config = ConfigDict(extra="allow")

    name: str
    shape: list[int]
    numel: int
    requires_grad: bool
    in_optimizer: bool | None = None


class Layer(BaseModel):
    """One watched module; ``order`` is the forward order."""

    name: str
    type: str
    family: str
    order: int
    num_params: int
    trainable_params: int
    params: list[LayerParam]


class StatMatrix(BaseModel):
    """``values[i][j]``: statistic ``field`` of kind ``kind`` for ``layers[i]`` at ``steps[j]``."""

    model_config = ConfigDict(ser_json_inf_nan="null")

    kind: str
    field: str
    layers: list[str]
    steps: list[int]
    values: list[list[float | None]]


class StatSeries(BaseModel):
    """All (or some) statistic fields of one layer and kind over sampled steps."""

    model_config = ConfigDict(ser_json_inf_nan="null")

    layer: str
    kind: str
    steps: list[int]
    fields: dict[str, list[float | None]]


class HistogramSeries(BaseModel):
    """Fixed-k histograms: bin edges of row i are ``linspace(lo[i], hi[i], k + 1)``."""

    model_config = ConfigDict(ser_json_inf_nan="null")

    layer: str
    kind: str
    steps: list[int]
    lo: list[float | None]
    hi: list[float | None]
    counts: list[list[int]]


class Finding(BaseModel):
    """One diagnosis finding (``Finding.to_dict()``)."""

    code: str
    severity: Severity
    layer: str | None
    step: int | None
    message: str
    evidence: dict[str, Any]
    suggestion: str


class Findings(BaseModel):
    """Diagnosis of a run: ``ok`` is false when any warning or error was found."""

    ok: bool
    findings: list[Finding]


class ArtifactInfo(BaseModel):
    """A stored explain result; ``blob_keys`` name its binary parts."""

    id: int
    name: str
    kind: str
    step: int | None
    wall: float
    blob_keys: list[str]


class Artifact(BaseModel):
    """An artifact with its JSON data (shape per kind in ``docs/artifacts.md``)."""

    info: ArtifactInfo
    data: dict[str, Any]


class Error(BaseModel):
    """Every error answer: one line."""

    error: str


#: Documented on every route: the error shape and the codes it can take.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Error, "description": text}
    for code, text in (
        (400, "bad argument"),
        (401, "missing or wrong token"),
        (403, "outside the served root"),
        (404, "not found or not recorded"),
        (422, "corrupt run or newer schema"),
    )
}


# -- from store records (numpy arrays straight to lists; NaN/Inf are written as null) ----------
# ``record.to_dict()`` cleans NaN element by element in Python (~0.3 s for a 200 x 1000 matrix);
# these keep NaN in the lists and let pydantic's serializer write null, with the same JSON.
def scalar_series(rec: Any) -> ScalarSeries:
    """Wire model of a :class:`~deepscope.store.records.ScalarSeries`."""
    return ScalarSeries.model_construct(
        tag=rec.tag, steps=rec.steps.tolist(), values=rec.values.tolist(),
        walls=rec.walls.tolist(), total_points=rec.total_points, downsampled=rec.downsampled)


def stat_matrix(rec: Any) -> StatMatrix:
    """Wire model of a :class:`~deepscope.store.records.StatMatrix`."""
    return StatMatrix.model_construct(
        kind=rec.kind, field=rec.field, layers=list(rec.layers), steps=rec.steps.tolist(),
        values=rec.values.tolist())


def stat_series(rec: Any) -> StatSeries:
    """Wire model of a :class:`~deepscope.store.records.StatSeries`."""
    return StatSeries.model_construct(
        layer=rec.layer, kind=rec.kind, steps=rec.steps.tolist(),
        fields={k: v.tolist() for k, v in rec.fields.items()})


def histogram_series(rec: Any) -> HistogramSeries:
    """Wire model of a :class:`~deepscope.store.records.HistogramSeries`."""
    return HistogramSeries.model_construct(
        layer=rec.layer, kind=rec.kind, steps=rec.steps.tolist(), lo=rec.lo.tolist(),
        hi=rec.hi.tolist(), counts=rec.counts.tolist())


class LayerList(RootModel[list[Layer]]):
    """``GET /api/runs/{run_id}/layers`` as one model, so its JSON can be cached."""


def layer_list(layers: list[Any]) -> LayerList:
    """Wire model of the reader's layers (validated once, then served from the cache)."""
    return LayerList.model_validate([layer.to_dict() for layer in layers])
