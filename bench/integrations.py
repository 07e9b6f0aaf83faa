"""Overhead of each framework adapter versus the framework alone.

For the transformers Trainer, Lightning and Keras 3 (torch backend) the same MLP (64-256-256-10)
trains on the same scikit-learn digits batches for the same number of steps, once with the
framework alone and once with deepscope's adapter (default preset: statistics every 10 steps,
histograms), in the same process, in alternating rounds. Printed: mean total training time of
each and their ratio. CPU, 1 thread.

    python bench/integrations.py [--quick] [--steps N] [--rounds R]

Measured on the 2 shared cores of the development machine (330 steps, 5 rounds): transformers
Trainer 4.71 s alone, 5.08 s with the callback (1.08x); Lightning 5.33 s / 5.93 s (1.11x, logger
and callback); Keras 2.61 s / 2.84 s (1.09x). The ratios include the one-time costs of a run
(directory and database, the graph built at the first forward) and 36 sampled steps of 330.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)
torch.set_num_threads(1)  # the shared 2-core machine: no thread contention
BATCH = 32


def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return ((X / 16.0 - 0.3) / 0.4).astype(np.float32), y.astype(np.int64)


def torch_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, 10))


# -- transformers ---------------------------------------------------------------------------
def hf(steps: int, runs: str | None) -> float:
    import transformers
    from transformers.modeling_outputs import SequenceClassifierOutput

    class Model(transformers.PreTrainedModel):
        config_class = transformers.PretrainedConfig

        def __init__(self, config):  # noqa: ANN001
            super().__init__(config)
            self.net = torch_mlp()

        def forward(self, pixel_values, labels=None, **kwargs):  # noqa: ANN001, ANN003
            logits = self.net(pixel_values)
            return SequenceClassifierOutput(
                loss=nn.functional.cross_entropy(logits, labels), logits=logits)

    X, y = digits()
    rows = [{"pixel_values": torch.as_tensor(a), "labels": int(b)}
            for a, b in zip(X, y, strict=True)]
    callbacks = []
    if runs is not None:
        from deepscope.integrations.hf import DeepscopeCallback

        callbacks = [DeepscopeCallback(dir=runs)]
    with tempfile.TemporaryDirectory() as out:
        args = transformers.TrainingArguments(
            output_dir=out, max_steps=steps, learning_rate=1e-3, per_device_train_batch_size=BATCH,
            logging_steps=10, save_strategy="no", report_to="none", use_cpu=True,
            disable_tqdm=True, seed=0, dataloader_num_workers=0,
        )
        trainer = transformers.Trainer(model=Model(transformers.PretrainedConfig()), args=args,
                                       train_dataset=rows, callbacks=callbacks)
        t = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t


# -- Lightning ------------------------------------------------------------------------------
def lightning(steps: int, runs: str | None) -> float:
    import lightning.pytorch as L

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch_mlp()

        def training_step(self, batch, batch_idx):  # noqa: ANN001, ANN201
            x, y = batch
            loss = nn.functional.cross_entropy(self.net(x), y)
            self.log("train/loss", loss)
            return loss

        def configure_optimizers(self):  # noqa: ANN201
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    X, y = digits()
    data = torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y))
    loader = torch.utils.data.DataLoader(data, batch_size=BATCH, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    logger, callbacks = False, []
    if runs is not None:
        from deepscope.integrations.lightning import DeepscopeCallback, DeepscopeLogger

        logger, callbacks = DeepscopeLogger(dir=runs), [DeepscopeCallback()]
    with tempfile.TemporaryDirectory() as root:
        trainer = L.Trainer(max_steps=steps, accelerator="cpu", devices=1, logger=logger,
                            callbacks=callbacks, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False,
                            log_every_n_steps=10, default_root_dir=root)
        module = Module()
        t = time.perf_counter()
        trainer.fit(module, loader)
        elapsed = time.perf_counter() - t
    if logger:
        logger.experiment.finish()
    return elapsed


# -- Keras ----------------------------------------------------------------------------------
def keras_fit(steps: int, runs: str | None) -> float:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                              keras.layers.Dense(256, activation="relu"), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    X, y = digits()
    per_epoch = len(X) // BATCH
    X, y = X[: per_epoch * BATCH], y[: per_epoch * BATCH]
    callbacks = []
    if runs is not None:
        from deepscope.integrations.keras import DeepscopeCallback

        callbacks = [DeepscopeCallback(dir=runs)]
    epochs = max(1, round(steps / per_epoch))
    t = time.perf_counter()
    model.fit(X, y, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=callbacks)
    return time.perf_counter() - t


FRAMEWORKS: dict[str, Callable[[int, str | None], float]] = {
    "transformers Trainer": hf, "Lightning": lightning, "Keras 3 (torch)": keras_fit,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2 rounds of 110 steps")
    parser.add_argument("--steps", type=int, default=330)
    parser.add_argument("--rounds", type=int, default=5)
    a = parser.parse_args()
    steps, rounds = (110, 2) if a.quick else (a.steps, a.rounds)
    print(f"{steps} steps of batch {BATCH}, {rounds} alternating rounds, mean total time")
    print(f"{'framework':<22} {'alone s':>9} {'deepscope s':>12} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as runs:
        for label, fn in FRAMEWORKS.items():
            fn(20, None)  # warm-up: imports, first-call costs
            fn(20, runs)
            alone, with_ds = [], []
            for _ in range(rounds):
                alone.append(fn(steps, None))
                with_ds.append(fn(steps, runs))
            a_mean, d_mean = statistics.mean(alone), statistics.mean(with_ds)
            print(f"{label:<22} {a_mean:>9.3f} {d_mean:>12.3f} {d_mean / a_mean:>7.3f}")


if __name__ == "__main__":
    main()
