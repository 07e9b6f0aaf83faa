"""One rank of the 2-process training in ``test_distributed.py`` (run by that test, not pytest).

    python dist_worker.py ROOT ddp|fsdp
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from torch import nn

import deepscope as ds

GLOBAL_BATCH, STEPS = 16, 3


def make_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                         nn.Linear(16, 4))


def batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(GLOBAL_BATCH, 8, generator=g), torch.randint(0, 4, (GLOBAL_BATCH,),
                                                                      generator=g))
            for _ in range(STEPS)]


def train(model: nn.Module, run: ds.Run, rank: int, world: int) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run.watch(model, optimizer=opt, every=1)
    per = GLOBAL_BATCH // world
    for x, y in batches():
        xs, ys = x[rank * per:(rank + 1) * per], y[rank * per:(rank + 1) * per]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xs), ys)
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()})


def main() -> None:
    root, mode = sys.argv[1], sys.argv[2]
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    model = make_model()
    if mode == "ddp":
        model = nn.parallel.DistributedDataParallel(model)
    else:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh("cpu", (world,))
        for layer in model:
            if isinstance(layer, nn.Linear):
                fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
    run = ds.init(name=f"dist-{mode}", dir=root)
    train(model, run, rank, world)
    run.finish()
    print(f"rank {rank} path {run.path}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
