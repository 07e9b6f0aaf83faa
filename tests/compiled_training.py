"""Train a ``torch.compile``d model a few steps, with or without a watch, counting what dynamo
compiled: a watch must add no graphs and no graph breaks (tests/capture).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

import deepscope as ds


def train_compiled(make_model: Callable[[], nn.Module],
                   loss: Callable[[nn.Module], torch.Tensor], runs_dir: Path, watch: bool
                   ) -> tuple[int, dict[str, int], Path | None]:
    """Six SGD steps of the compiled model (sampled every 2nd under a watch): the number of
    graphs dynamo compiled, its graph-break counters, and the run's path (None unwatched).
    """
    import torch._dynamo.utils as dynamo_utils

    torch._dynamo.reset()
    dynamo_utils.counters.clear()
    graphs = []

    def backend(gm, example_inputs):  # noqa: ANN001, ANN202
        graphs.append(gm)
        return gm.forward

    torch.manual_seed(0)
    cm = torch.compile(make_model(), backend=backend)
    opt = torch.optim.SGD(cm.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir) if watch else None
    if run is not None:
        run.watch(cm, optimizer=opt, every=2)
    for _ in range(6):
        opt.zero_grad()
        loss(cm).backward()
        opt.step()
    if run is None:
        return len(graphs), dict(dynamo_utils.counters["graph_break"]), None
    run.finish()
    return len(graphs), dict(dynamo_utils.counters["graph_break"]), Path(run.path)
