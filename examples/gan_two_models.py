"""Watch a generator and a discriminator in one run (a small GAN on 2-D data).

python examples/gan_two_models.py

Each model gets its own name: layers are stored as ``G.0`` and ``D.2``, and a step is one
optimizer step of that model's optimizer, however many times the model is called per step.
"""

import torch
from torch import nn

import deepscope as ds


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.LeakyReLU(0.2), nn.Linear(h, h), nn.LeakyReLU(0.2),
                         nn.Linear(h, o))


def real_batch(n):  # points on a ring
    angle = torch.rand(n) * 6.2832
    return torch.stack([angle.cos(), angle.sin()], 1) + 0.05 * torch.randn(n, 2)


def main():
    torch.manual_seed(0)
    g, d = mlp(8, 64, 2), mlp(2, 64, 1)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    with ds.init(name="gan-ring", config={"lr": 1e-3}) as run:
        run.watch(g, optimizer=opt_g, name="G")
        run.watch(d, optimizer=opt_d, name="D")
        for step in range(300):
            real, fake = real_batch(64), g(torch.randn(64, 8))
            opt_d.zero_grad()
            d_loss = bce(d(real), torch.ones(64, 1)) + bce(d(fake.detach()), torch.zeros(64, 1))
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            g_loss = bce(d(fake), torch.ones(64, 1))
            g_loss.backward()
            opt_g.step()
            run.log({"D/loss": d_loss.item(), "G/loss": g_loss.item()}, step=step)
    reader = ds.open_run(run.path)
    print("layers:", ", ".join(info.name for info in reader.layers()))
    print("D steps with statistics:", reader.stat_steps("grad")[:5].tolist(), "...")
    print(ds.diagnose(run.path).to_text())


if __name__ == "__main__":
    main()
