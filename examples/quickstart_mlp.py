"""Watch an MLP on scikit-learn's breast-cancer data, then diagnose the run.

python examples/quickstart_mlp.py
"""

import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

import deepscope as ds

X, y = load_breast_cancer(return_X_y=True)
Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.25, random_state=0)
scaler = StandardScaler().fit(Xtr)
Xtr, Xva = (torch.tensor(scaler.transform(a), dtype=torch.float32) for a in (Xtr, Xva))
ytr, yva = torch.tensor(ytr), torch.tensor(yva)

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

with ds.init(name="mlp-cancer", config={"lr": 1e-3, "hidden": 64}) as run:
    run.watch(model, optimizer=opt)
    step = 0
    for _epoch in range(30):
        for i in range(0, len(Xtr), 32):
            xb, yb = Xtr[i : i + 32], ytr[i : i + 32]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            run.log({"train/loss": loss.item()}, step=step)
            step += 1
        with torch.no_grad():
            out = model(Xva)
        run.log(
            {
                "val/loss": loss_fn(out, yva).item(),
                "val/acc": (out.argmax(1) == yva).float().mean().item(),
            },
            step=step - 1,
        )

print(ds.diagnose(run.path))
print(f"dashboard: deepscope ui {run.path.parent}")
