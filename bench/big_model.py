"""A realistic GPT-2 medium run written through ``RunWriter``, without training GPT-2 medium.

The layer names, types, parameter shapes and the architecture graph come from a
``transformers.GPT2LMHeadModel`` with the GPT-2 medium configuration (24 blocks, 1024 wide) built
on the meta device, so nothing is allocated and nothing is downloaded. The statistics follow what
such a training records (gradient norms falling with the loss, layer norms near 1, embeddings
with larger gradients) with three planted problems the dashboard must make findable among ~300
layers:

* ``transformer.h.17.mlp.c_fc``: its gradient norm collapses by 10^4 after 30% of training;
* ``transformer.h.5.attn.c_proj``: its gradient norm is exactly 0 after half of training;
* ``transformer.h.20.mlp.act``: its activation std grows 100x.

Used by ``bench/ui.py`` and the browser tests (``tests/browser``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepscope.store.records import LayerInfo
from deepscope.store.schema import STAT_FIELDS
from deepscope.store.writer import RunWriter

VANISHING = "transformer.h.17.mlp.c_fc"
ZERO_GRAD = "transformer.h.5.attn.c_proj"
EXPLODING_ACT = "transformer.h.20.mlp.act"
_F = {name: i for i, name in enumerate(STAT_FIELDS)}


def gpt2_medium():  # noqa: ANN201 - transformers is an optional dependency
    """GPT-2 medium on the meta device (no memory, no download)."""
    import torch
    import transformers

    cfg = transformers.GPT2Config(n_layer=24, n_embd=1024, n_head=16)
    with torch.device("meta"):
        return transformers.GPT2LMHeadModel(cfg)


def layer_infos(model) -> list[LayerInfo]:  # noqa: ANN001
    """What ``run.watch`` records for ``model``: the root, leaves and modules with parameters."""
    infos = []
    for name, mod in model.named_modules():
        params = list(mod.named_parameters(recurse=False))
        leaf = next(iter(mod.children()), None) is None
        if not params and not leaf and mod is not model:
            continue
        kind = type(mod).__name__
        family = "relu" if "ReLU" in kind else "tanh" if kind == "Tanh" else "other"
        infos.append(LayerInfo(
            name or "<root>", kind, family, len(infos), sum(p.numel() for _, p in params),
            sum(p.numel() for _, p in params),
            tuple({"name": n, "shape": list(p.shape), "numel": p.numel(), "requires_grad": True,
                   "in_optimizer": True} for n, p in params)))
    return infos


def _grad_scale(name: str) -> float:
    if "wte" in name or "wpe" in name or "lm_head" in name:
        return 0.8
    if ".ln_" in name or name.endswith("ln_f"):
        return 0.04
    return 0.25 if ".mlp." in name else 0.15


def _row(vals: dict[str, float]) -> np.ndarray:
    out = np.full(len(STAT_FIELDS), np.nan)
    for k, v in vals.items():
        out[_F[k]] = v
    return out


def _step_rows(infos: list[LayerInfo], t: float, rng: np.random.Generator) -> list[tuple]:
    rows = []
    decay = 1.0 / np.sqrt(1.0 + 20.0 * t)
    for info in infos:
        name = info.name
        noise = float(np.exp(0.15 * rng.standard_normal()))
        if info.num_params:
            w = 0.02 * np.sqrt(info.num_params) * (1 + 0.1 * t)
            g = _grad_scale(name) * decay * noise
            if name == VANISHING and t > 0.3:
                g *= 1e-4
            if name == ZERO_GRAD and t > 0.5:
                g = 0.0
            u = 1e-3 * decay * noise * (0.0 if g == 0 else 1.0)
            rows.append((name, "weight", _row({"count": info.num_params, "mean": 0.0, "std": 0.02,
                                               "min": -0.1, "max": 0.1, "norm": w,
                                               "zero_frac": 0.0, "nonfinite": 0})))
            rows.append((name, "grad", _row({"count": info.num_params, "mean": 0.0,
                                             "std": g / np.sqrt(info.num_params), "min": -g,
                                             "max": g, "norm": g, "zero_frac": 1.0 if g == 0
                                             else 0.0, "nonfinite": 0})))
            rows.append((name, "update", _row({"count": info.num_params, "norm": u * w,
                                               "update_ratio": u, "nonfinite": 0})))
        std = (2.0 if ".mlp.c_fc" in name else 1.0) * noise
        if name == EXPLODING_ACT:
            std *= 1.0 + 99.0 * t
        rows.append((name, "activation", _row({"count": 4096, "mean": 0.05 * noise, "std": std,
                                               "min": -4 * std, "max": 4 * std,
                                               "norm": 64 * std, "zero_frac": 0.0,
                                               "nonfinite": 0})))
    return rows


def write_gpt2_medium_run(root: Path, steps: int = 300, every: int = 10,
                          histogram_every: int = 10, graph: bool = True) -> Path:
    """Write the run under ``root / "gpt2-medium"`` (``steps`` sampled steps) and return it."""
    model = gpt2_medium()
    infos = layer_infos(model)
    path = root / "gpt2-medium"
    w = RunWriter(path, meta={"name": "gpt2-medium", "config": {
        "model": "gpt2-medium", "n_layer": 24, "n_embd": 1024, "lr": 3e-4}})
    w.set_layers(infos)
    rng = np.random.default_rng(0)
    edges = np.linspace(-1.0, 1.0, 65)
    for k in range(steps):
        step = k * every
        t = k / max(1, steps - 1)
        loss = 3.0 + 7.0 * np.exp(-6 * t) + 0.05 * rng.standard_normal()
        w.log_scalars(step, {"train/loss": float(loss)})
        if k % 10 == 0:
            w.log_scalars(step, {"val/loss": float(loss + 0.1)})
        rows = _step_rows(infos, t, rng)
        w.log_stats(step, rows)
        if k % histogram_every == 0:
            counts = np.histogram(rng.standard_normal(2048) * 0.3, bins=edges)[0]
            w.log_histograms(step, [(name, kind, -1.0, 1.0, counts) for name, kind, _ in rows
                                    if kind in ("weight", "grad", "activation")])
    if graph:
        import torch

        from deepscope.graph.trace import build_graph

        ids = torch.zeros(1, 16, dtype=torch.long, device="meta")
        w.set_graph(build_graph(model, {"input_ids": ids}).to_dict())
    w.close()
    w.wait_closed(timeout=600)  # close() waits at most 120 s for the writer thread
    return path
