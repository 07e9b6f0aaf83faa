"""Synthetic but realistic runs written through RunWriter (shared by server and report tests)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from deepscope.store.records import LayerInfo
from deepscope.store.schema import STAT_FIELDS
from deepscope.store.writer import RunWriter

LAYERS = ("fc1", "act1", "fc2")
TAGS = ("train/loss", "train/acc", "val/loss")


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid grey PNG (no imaging library needed)."""
    raw = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _stat_vector(rng: np.random.Generator, kind: str, step: int) -> np.ndarray:
    vec = np.full(len(STAT_FIELDS), np.nan)
    f = {name: i for i, name in enumerate(STAT_FIELDS)}
    vec[f["count"]] = 640
    vec[f["mean"]] = rng.normal(0, 0.1)
    vec[f["std"]] = 0.5 + 0.01 * step
    vec[f["min"]], vec[f["max"]] = -2.0, 2.0
    vec[f["norm"]] = 1.0 + 0.1 * step
    vec[f["zero_frac"]] = 0.0
    vec[f["nonfinite"]] = 0
    if kind == "activation":
        vec[f["dead_frac"]] = 0.05
    return vec


def graph_dict() -> dict:
    nodes = [
        {"id": "input", "name": "input", "label": "input", "type": "input", "kind": "input"},
        *({"id": n, "name": n, "label": n, "type": "Linear", "kind": "module"} for n in LAYERS),
        {"id": "output", "name": "output", "label": "output", "type": "output", "kind": "output"},
    ]
    ids = [n["id"] for n in nodes]
    edges = [{"source": a, "target": b, "shape": [8, 16], "dtype": "float32"}
             for a, b in zip(ids, ids[1:], strict=False)]
    return {"format": "deepscope.graph/1", "model": "MLP", "tracer": "fx", "notes": [],
            "nodes": nodes, "edges": edges,
            "totals": {"params": 1000, "trainable_params": 1000, "flops": 2000}}


def write_run(path: Path, *, name: str = "mlp", steps: int = 40, graph: bool = True,
              finish: bool = True) -> RunWriter:
    """A finished run with scalars, layers, stats, histograms, graph, events and artifacts."""
    rng = np.random.default_rng(0)
    w = RunWriter(path, meta={"name": name, "config": {"lr": 0.01}, "deepscope_version": "0.1.0"})
    w.set_layers([LayerInfo(n, "Linear" if n.startswith("fc") else "ReLU",
                            "relu" if n == "act1" else "other", i, 0 if n == "act1" else 136,
                            0 if n == "act1" else 136,
                            () if n == "act1" else ({"name": "weight", "shape": [8, 16],
                                                     "numel": 128, "requires_grad": True,
                                                     "in_optimizer": True},))
                  for i, n in enumerate(LAYERS)])
    for step in range(steps):
        w.log_scalars(step, {"train/loss": 2.0 / (1 + step), "train/acc": step / steps})
        if step % 5 == 0:
            w.log_scalars(step, {"val/loss": 2.2 / (1 + step)})
            rows = [(layer, kind, _stat_vector(rng, kind, step))
                    for layer in LAYERS for kind in ("weight", "grad", "activation")
                    if not (layer == "act1" and kind != "activation")]
            w.log_stats(step, rows)
            w.log_histograms(step, [(layer, kind, -2.0, 2.0, rng.integers(0, 50, 16))
                                    for layer, kind, _ in rows])
    if graph:
        w.set_graph(graph_dict())
    w.add_event("nonfinite", None, None, {"source": "loss", "modules": [],
                                          "input_nonfinite": False})
    w.add_finding({"code": "loss_plateau", "severity": "warning", "layer": None, "step": 10,
                   "message": "loss flat", "suggestion": "raise the learning rate",
                   "evidence": {"rel_change": 0.001}})
    w.add_artifact("attr", "attribution", {"method": "saliency", "shape": [2, 2]},
                   {"image": ("image/png", tiny_png()),
                    "page": ("text/html", b"<script>alert(1)</script>")}, step=steps - 1)
    if finish:
        w.close()
    else:
        w.flush()
    return w


def write_root(root: Path) -> Path:
    """Two readable runs (one nested) and one corrupt run under ``root``."""
    write_run(root / "mlp-a", name="mlp-a")
    write_run(root / "team" / "exp-1", name="exp-1", steps=12, graph=False)
    broken = root / "broken"
    broken.mkdir(parents=True)
    (broken / "deepscope.db").write_bytes(b"this is not a database" * 100)
    return root
