"""Two DDP processes (gloo, on this machine) write one run: rank 0 writes, statistics merged.

python examples/ddp_two_processes.py

With torchrun the script body is the same: every rank calls ds.init and run.watch.
"""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.datasets import load_digits
from torch import nn

import deepscope as ds


def train(rank, world, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    d = load_digits()
    x = torch.tensor((d.data - d.data.mean()) / d.data.std(), dtype=torch.float32)
    y = torch.tensor(d.target)
    model = nn.parallel.DistributedDataParallel(
        nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = ds.init(name="ddp-digits", config={"world_size": world})
    run.watch(model, optimizer=opt)  # no "module." in layer names
    for step in range(100):
        idx = torch.arange(step * 64, step * 64 + 64) % len(x)
        mine = idx[rank::world]  # each rank its half of the global batch
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[mine]), y[mine])
        loss.backward()
        opt.step()
        if rank == 0:
            run.log({"train/loss": loss.item()}, step=step)
    run.finish()
    if rank == 0:
        r = ds.open_run(run.path)
        print("one run:", run.path, "world size", r.meta().config["world_size"])
        print("activation count at step 0 (global batch):",
              int(r.stat_series("0", "activation")["count"][0]))
        print(ds.diagnose(run.path).to_text())
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    mp.spawn(train, args=(2, free_port()), nprocs=2, join=True)
