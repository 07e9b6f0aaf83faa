"""The transformer part of a report payload: the same shapes as the ``/transformer`` endpoints.

``{"info", "heads": {field: HeadMatrix}, "blocks": {field: StatMatrix}, "output": OutputSeries,
"patterns": {module: {head: [AttentionPattern, ...]}}}``; patterns are kept at a few evenly
spaced stored steps (first and last included), probabilities rounded to 3 decimals, so the
report of a 12-layer model stays mailable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepscope.errors import NotRecordedError
from deepscope.store import RunReader
from deepscope.store.downsample import thin_indices
from deepscope.store.schema import BLOCK_FIELDS, HEAD_FIELDS


def _patterns(reader: RunReader, modules: list[str], steps: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if steps <= 0:
        return out
    for module in modules:
        try:
            latest = reader.attention_pattern(module)
        except NotRecordedError:
            continue
        keep = [latest.steps[i] for i in thin_indices(len(latest.steps), steps)]
        per_head: dict[str, list[dict[str, Any]]] = {str(h): [] for h in range(latest.heads)}
        for step in keep:
            p = reader.attention_pattern(module, step)
            for h in range(p.heads):
                d = {"module": module, "step": p.step, "heads": p.heads, "head": h,
                     "steps": keep, "tokens": None if p.tokens is None else list(p.tokens),
                     "values": np.round(p.probs[h].astype(float), 3).tolist()}
                per_head[str(h)].append(d)
        out[module] = per_head
    return out


def transformer_part(reader: RunReader, stat_steps: int, pattern_steps: int
                     ) -> dict[str, Any] | None:
    """The run's transformer statistics for a report, or None when none were recorded."""
    try:
        info = reader.transformer_info()
    except NotRecordedError:
        return None
    part: dict[str, Any] = {"info": info.to_dict(), "heads": {}, "blocks": {}}
    for field in HEAD_FIELDS:
        try:
            part["heads"][field] = reader.head_matrix(field, max_steps=stat_steps).to_dict()
        except NotRecordedError:
            break
    for field in BLOCK_FIELDS:
        try:
            part["blocks"][field] = reader.block_matrix(field, max_steps=stat_steps).to_dict()
        except NotRecordedError:
            break
    try:
        part["output"] = reader.output_series(max_points=2 * stat_steps).to_dict()
    except NotRecordedError:
        pass
    part["patterns"] = _patterns(reader, [m.name for m in info.attention], pattern_steps)
    return part
