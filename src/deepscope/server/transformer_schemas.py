"""Wire models of the transformer endpoints (``/api/runs/{run_id}/transformer``).

Each mirrors the ``to_dict()`` of a record in :mod:`deepscope.store.transformer_records`; JSON
has no NaN: missing values are ``null``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class AttentionModule(BaseModel):
    """A recognised attention module: name, class, heads, how it was seen, its block."""

    name: str
    type: str
    heads: int
    via: str
    block: str | None


class TransformerInfo(BaseModel):
    """What the transformer capture recognised in a run."""

    attention: list[AttentionModule]
    blocks: list[str]
    outputs: list[str]
    unrecognised: list[str]
    probe_tokens: list[str] | None
    probe_length: int | None
    note: str | None = None


class HeadMatrix(BaseModel):
    """``values[s][m][h]``: statistic ``field`` of head ``h`` of ``modules[m]`` at ``steps[s]``."""

    model_config = ConfigDict(ser_json_inf_nan="null")

    field: str
    modules: list[str]
    heads: list[int]
    steps: list[int]
    values: list[list[list[float | None]]]


class OutputSeries(BaseModel):
    """Output-logit statistics of one watch over sampled steps."""

    model_config = ConfigDict(ser_json_inf_nan="null")

    watch: str
    steps: list[int]
    fields: dict[str, list[float | None]]


class AttentionPattern(BaseModel):
    """``values[q][k]``: attention of probe query ``q`` on key ``k`` for one head at ``step``;
    ``steps`` lists every step with a stored pattern of the module.
    """

    model_config = ConfigDict(ser_json_inf_nan="null")

    module: str
    step: int
    heads: int
    head: int | None
    steps: list[int]
    tokens: list[str] | None
    values: list[list[float | None]]


def build(model: type[BaseModel], rec: Any) -> BaseModel:
    """The wire model of a record, from its ``to_dict()`` (NaN already ``None``)."""
    return model.model_validate(rec.to_dict())
