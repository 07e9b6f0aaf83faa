"""Stop training at the first NaN and learn which module produced it.

The model standardises each input feature with the batch's own std. Some digits pixels are zero in
every image, so their std is 0 and 0 / 0 = NaN. ``on_nonfinite="raise"`` stops the loop at once
and names the first module, in forward order, whose output became NaN/Inf.

    python examples/nan_hunt.py
"""

import torch
from sklearn.datasets import load_digits
from torch import nn

import deepscope as ds


class BatchStandardize(nn.Module):
    """The bug: no epsilon in the denominator."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - x.mean(0)) / x.std(0)


X, y = load_digits(return_X_y=True)
X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)

torch.manual_seed(0)
model = nn.Sequential()
model.add_module("norm", BatchStandardize())
model.add_module("fc1", nn.Linear(64, 128))
model.add_module("act", nn.ReLU())
model.add_module("fc2", nn.Linear(128, 10))
opt = torch.optim.SGD(model.parameters(), lr=0.1)

run = ds.init(name="nan-hunt")
run.watch(model, optimizer=opt, on_nonfinite="raise")
try:
    for step in range(100):
        idx = torch.randint(0, len(X), (64,))
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
except ds.DeepscopeError as err:
    print(f"stopped: {err}")
finally:
    run.finish()

for f in ds.diagnose(run.path).findings:
    print(f.severity, f.code, f.layer, f.step, "-", f.suggestion)
