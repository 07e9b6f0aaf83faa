"""Record a Lightning training with deepscope's logger and callback, then diagnose it.

python examples/lightning_trainer.py
"""

import lightning.pytorch as L
import torch
from sklearn.datasets import load_digits
from torch import nn

import deepscope as ds
from deepscope.integrations.lightning import DeepscopeCallback, DeepscopeLogger


class DigitsClassifier(L.LightningModule):
    def __init__(self, lr=1e-2, hidden=64):
        super().__init__()
        self.save_hyperparameters()  # becomes the run's config
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val/loss", nn.functional.cross_entropy(logits, y))
        self.log("val/acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


X, y = load_digits(return_X_y=True)
X = torch.tensor((X / 16.0 - 0.3) / 0.4, dtype=torch.float32)
data = torch.utils.data.TensorDataset(X, torch.tensor(y))
train, val = torch.utils.data.random_split(data, [1500, 297], torch.Generator().manual_seed(0))

logger = DeepscopeLogger(name="lightning-digits")  # the ds.init arguments
trainer = L.Trainer(
    max_epochs=3, accelerator="cpu", logger=logger, callbacks=[DeepscopeCallback(every=10)],
    log_every_n_steps=5, enable_checkpointing=False, enable_progress_bar=False,
)
trainer.fit(
    DigitsClassifier(),
    torch.utils.data.DataLoader(train, batch_size=32, shuffle=True),
    torch.utils.data.DataLoader(val, batch_size=256),
)

run = logger.experiment
print(ds.diagnose(run).to_text())
print(f"dashboard: deepscope ui {run.path.parent}")
