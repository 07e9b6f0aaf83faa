"""One run as the JSON payload a report embeds: the same shapes as the HTTP API.

The shape is documented in ``docs/api.md`` ("Report payload"): ``runs``, then per run id
``scalars`` (tag -> downsampled series), ``layers``, ``stats`` (``"kind/field"`` -> matrix),
``histograms`` (``"kind/layer"`` -> thinned histograms), ``graph``, ``findings`` and ``artifacts``
(blobs as ``data:`` URIs). A missing key means "not recorded". :func:`payload_json` shrinks the
resolution step by step until the payload fits a byte budget, so a report stays mailable.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepscope.errors import NotRecordedError
from deepscope.report.transformer_payload import transformer_part
from deepscope.server.summary import FindingsCache, run_detail
from deepscope.store import RunReader, open_reader
from deepscope.store.schema import STAT_FIELDS

#: Blob types embedded as themselves; others become application/octet-stream.
SAFE_MIME = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "application/json",
                       "application/octet-stream", "text/plain", "text/csv"})


@dataclass(frozen=True)
class Resolution:
    """How much of each series a report keeps (points per tag, matrix steps, histogram steps)."""

    scalar_points: int = 2000
    stat_steps: int = 500
    histogram_steps: int = 100
    #: Stored steps whose probe attention patterns are embedded (0: none).
    pattern_steps: int = 3


#: Tried in order until the payload fits its budget.
LEVELS = (
    Resolution(),
    Resolution(1000, 250, 50, 2),
    Resolution(500, 120, 25, 1),
    Resolution(250, 60, 12, 0),
)


def _finite(value: Any) -> Any:
    """JSON has no NaN/Inf: free-form dicts (graph, evidence, artifact data) get null instead."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _stats(reader: RunReader, res: Resolution) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in reader.stat_kinds():
        for field in STAT_FIELDS:
            matrix = reader.stat_matrix(kind, field, max_steps=res.stat_steps)
            if matrix.values.size and np.isfinite(matrix.values).any():
                out[f"{kind}/{field}"] = matrix.to_dict()
    return out


def _histograms(reader: RunReader, res: Resolution) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kinds = reader.stat_kinds()
    for layer in reader.layers():
        for kind in kinds:
            try:
                hist = reader.histograms(layer.name, kind, max_steps=res.histogram_steps)
            except NotRecordedError:
                continue
            out[f"{kind}/{layer.name}"] = hist.to_dict()
    return out


def _artifacts(reader: RunReader) -> list[dict[str, Any]]:
    out = []
    for info in reader.artifacts():
        art = reader.artifact(info.id)
        blobs = {}
        for key, (mime, data) in art.blobs.items():
            kind = mime.split(";")[0].strip().lower()
            kind = kind if kind in SAFE_MIME else "application/octet-stream"
            blobs[key] = f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"
        out.append({"info": art.info.to_dict(), "data": _finite(art.data), "blobs": blobs})
    return out


def _fixed_parts(reader: RunReader) -> dict[str, Any]:
    """Everything that does not depend on the resolution (computed once per report)."""
    cache = FindingsCache(maxsize=1)
    detail = run_detail(reader, cache)
    run_id = detail["id"]
    detail["path"] = Path(detail["path"]).name  # a mailed report does not reveal local paths
    findings = cache.get(reader)
    return {
        "runs": [detail],
        "layers": {run_id: [layer.to_dict() for layer in reader.layers()]},
        "graph": {run_id: _finite(reader.graph())},
        "findings": {run_id: {"ok": findings["ok"], "findings": _finite(findings["findings"])}},
        "artifacts": {run_id: _artifacts(reader)},
    }


def _resolved_parts(reader: RunReader, run_id: str, tags: list[str],
                    resolution: Resolution) -> dict[str, Any]:
    scalars = {tag: reader.scalars(tag, max_points=resolution.scalar_points).to_dict()
               for tag in tags}
    tx = transformer_part(reader, resolution.stat_steps, resolution.pattern_steps)
    return {
        "scalars": {run_id: scalars},
        "stats": {run_id: _stats(reader, resolution)},
        "histograms": {run_id: _histograms(reader, resolution)},
        **({"transformer": {run_id: tx}} if tx is not None else {}),
    }


def _assemble(fixed: dict[str, Any], resolved: dict[str, Any]) -> dict[str, Any]:
    order = ("runs", "scalars", "layers", "stats", "histograms", "graph", "findings", "artifacts",
             "transformer")
    both = {**fixed, **resolved}
    return {key: both[key] for key in order if key in both}


def build_payload(reader: RunReader, resolution: Resolution = LEVELS[0]) -> dict[str, Any]:
    """The report payload of one run (see the module docstring for its shape).

    Example:
        >>> from deepscope.store import open_reader
        >>> with open_reader("deepscope-runs/mlp-20261122-101500-ab12") as r:  # doctest: +SKIP
        ...     payload = build_payload(r)
        >>> sorted(payload)  # doctest: +SKIP
        ['artifacts', 'findings', 'graph', 'histograms', 'layers', 'runs', 'scalars', 'stats']

    """
    fixed = _fixed_parts(reader)
    run = fixed["runs"][0]
    return _assemble(fixed, _resolved_parts(reader, run["id"], run["tags"], resolution))


def to_script_json(payload: dict[str, Any]) -> str:
    r"""JSON that is safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` and
    U+2028/U+2029 escaped, so no run string can close the element.

    Example:
        >>> to_script_json({"tag": "</script>"})
        '{"tag":"\\u003c/script\\u003e"}'

    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def payload_json(run_dir: str | Path, max_bytes: int | None = None) -> tuple[str, Resolution]:
    """The escaped payload of the run in ``run_dir``, at the finest resolution that fits.

    Example:
        >>> text, level = payload_json("runs/mlp-1", max_bytes=4_000_000)  # doctest: +SKIP

    """
    path = Path(run_dir)
    with open_reader(path, path.resolve().name) as reader:
        fixed = _fixed_parts(reader)
        run = fixed["runs"][0]
        text, level = "", LEVELS[0]
        for level in LEVELS:
            resolved = _resolved_parts(reader, run["id"], run["tags"], level)
            text = to_script_json(_assemble(fixed, resolved))
            if max_bytes is None or len(text) <= max_bytes:
                break
    return text, level
