"""Graph + summary time of deepscope versus torchinfo.summary and torchview.draw_graph.

GPT-2 (default config: 12 layers, 124M parameters) and BERT-base, randomly initialised from their
configs (no downloads), on one sequence of --seq tokens. Every tool runs in this same process on
the same model and input: one warm-up call each, then the median of --repeat timed calls. torchview
builds its graph without rendering it (no Graphviz call). CPU, 2 threads.

    python bench/graph.py [--seq 128] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

warnings.filterwarnings("ignore")
torch.set_num_threads(2)


def models() -> list[tuple[str, Callable[[], torch.nn.Module]]]:
    from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    return [
        ("gpt2 (12 layers)", lambda: GPT2LMHeadModel(GPT2Config()).eval()),
        ("bert-base", lambda: BertModel(BertConfig()).eval()),
    ]


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(first call, median of the next ``repeat`` calls, result). The first call includes
    one-time setup (imports, caches), which a user pays once per process."""
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return first, statistics.median(times), result


def run_deepscope(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> Any:
    from deepscope.graph.summary import summary

    s = summary(model, inputs)
    str(s)  # the table is part of what the user waits for
    return s


def run_torchinfo(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> Any:
    import torchinfo

    return torchinfo.summary(model, input_data=inputs, verbose=0, depth=10)


def run_torchview(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> Any:
    import torchview

    return torchview.draw_graph(model, input_data=inputs, depth=10, expand_nested=True)


def torchview_nodes(graph: Any) -> int:
    return graph.visual_graph.source.count("[label=")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, seq {args.seq}")
    header = (
        f"{'model':<18} {'tool':<10} {'first s':>8} {'median s':>9} {'vs deepscope':>13}"
        "  nodes / rows"
    )
    print(header)
    print("-" * len(header))
    for name, build in models():
        torch.manual_seed(0)
        model = build()
        inputs = {"input_ids": torch.randint(0, 1000, (1, args.seq))}
        f_ds, t_ds, s = timed(lambda m=model, i=inputs: run_deepscope(m, i), args.repeat)
        f_ti, t_ti, info = timed(lambda m=model, i=inputs: run_torchinfo(m, i), args.repeat)
        f_tv, t_tv, view = timed(lambda m=model, i=inputs: run_torchview(m, i), args.repeat)
        g = s.graph
        kinds = {k: sum(n.kind == k for n in g.nodes) for k in ("module", "op")}
        exact = g.totals.params == sum(p.numel() for p in model.parameters())
        print(
            f"{name:<18} {'deepscope':<10} {f_ds:>8.2f} {t_ds:>9.3f} {1.0:>12.2f}x  "
            f"{len(g.nodes)} nodes "
            f"({kinds['module']} modules, {kinds['op']} ops), {len(g.edges)} edges, "
            f"tracer {g.tracer}, params exact: {exact}, FLOPs {g.totals.flops / 1e9:.2f} G"
        )
        print(
            f"{'':<18} {'torchinfo':<10} {f_ti:>8.2f} {t_ti:>9.3f} {t_ti / t_ds:>12.2f}x  "
            f"{len(info.summary_list)} rows, params {info.total_params:,}, "
            f"mult-adds {info.total_mult_adds / 1e9:.2f} G"
        )
        print(
            f"{'':<18} {'torchview':<10} {f_tv:>8.2f} {t_tv:>9.3f} {t_tv / t_ds:>12.2f}x  "
            f"{torchview_nodes(view)} nodes (not rendered)"
        )
        del model


if __name__ == "__main__":
    main()
