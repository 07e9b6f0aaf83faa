"""One or several runs as the JSON payload a report embeds: the same shapes as the HTTP API.

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
from deepscope.store.downsample import thin_indices
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
    Resolution(250, 30, 6, 0),
    Resolution(120, 15, 3, 0),
)

#: Statistics are embedded with the 4 significant digits the views show (a GPT-2 medium run's
#: 28 matrices of 246 layers: 4.0 MB of JSON at full precision, 1.9 MB rounded).
STAT_DIGITS = 4


def _finite(value: Any) -> Any:
    """JSON has no NaN/Inf: free-form dicts (graph, evidence, artifact data) get null instead."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _rounded(row: np.ndarray) -> list[float | None]:
    return [float(f"{v:.{STAT_DIGITS}g}") if math.isfinite(v) else None for v in row.tolist()]


class _Stats:
    """Every statistic matrix of a run at full resolution, read once and thinned per level."""

    def __init__(self, reader: RunReader) -> None:
        self.matrices = []
        for kind in reader.stat_kinds():
            for field in STAT_FIELDS:
                matrix = reader.stat_matrix(kind, field)
                if matrix.values.size and np.isfinite(matrix.values).any():
                    self.matrices.append(matrix)

    def at(self, res: Resolution) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in self.matrices:
            idx = thin_indices(len(m.steps), res.stat_steps)
            out[f"{m.kind}/{m.field}"] = {
                "kind": m.kind, "field": m.field, "layers": list(m.layers),
                "steps": m.steps[idx].tolist(), "values": [_rounded(r) for r in m.values[:, idx]],
            }
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


def _fixed_parts(reader: RunReader, run_id: str) -> dict[str, Any]:
    """Everything that does not depend on the resolution (computed once per report)."""
    cache = FindingsCache(maxsize=1)
    detail = run_detail(reader, cache)
    detail["id"] = run_id
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
                    resolution: Resolution, stats: _Stats | None = None) -> dict[str, Any]:
    scalars = {tag: reader.scalars(tag, max_points=resolution.scalar_points).to_dict()
               for tag in tags}
    tx = transformer_part(reader, resolution.stat_steps, resolution.pattern_steps)
    return {
        "scalars": {run_id: scalars},
        "stats": {run_id: (stats or _Stats(reader)).at(resolution)},
        "histograms": {run_id: _histograms(reader, resolution)},
        **({"transformer": {run_id: tx}} if tx is not None else {}),
    }


ORDER = ("runs", "scalars", "layers", "stats", "histograms", "graph", "findings", "artifacts",
         "transformer")


def _assemble(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One payload from the parts of every run: ``runs`` concatenated, the rest merged by id."""
    out: dict[str, Any] = {key: [] if key == "runs" else {} for key in ORDER}
    for part in parts:
        for key, value in part.items():
            if key == "runs":
                out["runs"].extend(value)
            else:
                out[key].update(value)
    return out


def run_ids(run_dirs: list[Path]) -> list[str]:
    """Report ids of the runs: their directory names, made unique with ``-2``, ``-3``, ..."""
    ids: list[str] = []
    for path in run_dirs:
        base = path.resolve().name
        rid, n = base, 1
        while rid in ids:
            n += 1
            rid = f"{base}-{n}"
        ids.append(rid)
    return ids


def build_payload(reader: RunReader, resolution: Resolution = LEVELS[0]) -> dict[str, Any]:
    """The report payload of one run (see the module docstring for its shape).

    Example:
        >>> from deepscope.store import open_reader
        >>> with open_reader("deepscope-runs/mlp-20261122-101500-ab12") as r:  # doctest: +SKIP
        ...     payload = build_payload(r)
        >>> sorted(payload)  # doctest: +SKIP
        ['artifacts', 'findings', 'graph', 'histograms', 'layers', 'runs', 'scalars', 'stats']

    """
    run_id = Path(reader.path).resolve().name
    fixed = _fixed_parts(reader, run_id)
    tags = fixed["runs"][0]["tags"]
    return _assemble([fixed, _resolved_parts(reader, run_id, tags, resolution)])


def to_script_json(payload: dict[str, Any]) -> str:
    r"""JSON that is safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` and
    U+2028/U+2029 escaped, so no run string can close the element.

    Example:
        >>> to_script_json({"tag": "</script>"})
        '{"tag":"\\u003c/script\\u003e"}'

    """
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def payload_json(run_dirs: str | Path | list[str | Path],
                 max_bytes: int | None = None) -> tuple[str, Resolution]:
    """The escaped payload of the run(s) in ``run_dirs``, at the finest resolution that fits.

    Example:
        >>> text, _ = payload_json(["runs/a", "runs/b"], max_bytes=8_000_000)  # doctest: +SKIP

    """
    dirs = [Path(d) for d in (run_dirs if isinstance(run_dirs, list) else [run_dirs])]
    readers = [open_reader(d, d.resolve().name) for d in dirs]
    try:
        ids = run_ids(dirs)
        fixed = [_fixed_parts(r, rid) for r, rid in zip(readers, ids, strict=True)]
        stats = [_Stats(r) for r in readers]
        text, level = "", LEVELS[0]
        for level in LEVELS:
            resolved = [_resolved_parts(r, rid, f["runs"][0]["tags"], level, st)
                        for r, rid, f, st in zip(readers, ids, fixed, stats, strict=True)]
            text = to_script_json(_assemble([*fixed, *resolved]))
            if max_bytes is None or len(text) <= max_bytes:
                break
    finally:
        for r in readers:
            r.close()
    return text, level
