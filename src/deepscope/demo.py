"""The demo: a healthy CNN and four short broken trainings on scikit-learn's bundled digits.

Each broken run makes one classic mistake whose finding is the headline of its diagnosis, and
each looks different in its curves:

* ``demo-nan-softmax``: one training image was stored as 0..255 while the others are 0..1; the
  first batch holding it (step 70 or later) overflows the model's hand-written softmax (no max
  subtraction): NaN appears in module ``attention.softmax`` from finite inputs, and the loss
  curve ends there.
* ``demo-vanishing-sigmoid``: ten sigmoid layers; the early layers get almost no gradient and
  the loss stays flat at chance level.
* ``demo-dead-relu-cnn``: the healthy CNN with Adam at a learning rate 50x too high; most ReLU
  channels die and the loss stalls far above the healthy run's.
* ``demo-overfit-mlp``: a wide MLP on 120 digits with 20% wrong labels; training loss falls to
  zero while the validation loss turns and rises.

The healthy run also stores every explain result (attributions, embedding, predictions, weights,
feature importance, decision boundary, activation maximisation), so every view has content;
the broken runs store their validation predictions (the small ones their weights too), to
compare with the healthy run's.
All five train on two CPU cores in about a minute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

import deepscope as ds


class DigitsCNN(nn.Module):
    """A small CNN for 8x8 digits: two conv blocks, then two fully connected layers."""

    def __init__(self, channels: int = 16, hidden: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc1 = nn.Linear(2 * channels * 16, hidden)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(self.features(x).flatten(1))))


class NaiveSoftmax(nn.Module):
    """softmax as exp(s) / sum(exp(s)): overflows to inf / inf = NaN once a score passes ~88."""

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        e = torch.exp(s)
        return e / e.sum(dim=1, keepdim=True)


class FeatureAttention(nn.Module):
    """Scores each hidden feature and reweights the features by their softmax."""

    def __init__(self, width: int):
        super().__init__()
        self.score = nn.Linear(width, width)
        self.softmax = NaiveSoftmax()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h * self.softmax(self.score(h)) * h.shape[1]


class AttentionMLP(nn.Module):
    """An MLP for flattened digits with a feature-attention layer in the middle."""

    def __init__(self, width: int = 64):
        super().__init__()
        self.fc1 = nn.Linear(64, width)
        self.act = nn.ReLU()
        self.attention = FeatureAttention(width)
        self.fc2 = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.attention(self.act(self.fc1(x))))


def mlp(sizes: list[int], act: Callable[[], nn.Module] = nn.ReLU) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``act`` between them."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


@dataclass
class Data:
    """Train and validation tensors."""

    x: torch.Tensor
    y: torch.Tensor
    xv: torch.Tensor
    yv: torch.Tensor


def load_digits_split(standardise: bool = True, seed: int = 0, *, images: bool = True,
                      train: int | None = None, label_noise: float = 0.0) -> Data:
    """Digits as (N, 1, 8, 8) images (or N x 64 rows), 80/20 split; raw pixels are 0..16.

    ``train`` keeps that many training samples; ``label_noise`` replaces that share of their
    labels with random classes.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images.astype(np.float32)
    y = data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    cut = int(0.8 * len(x))
    tr, va = idx[:cut][:train], idx[cut:]
    if standardise:
        x = (x - x[tr].mean()) / x[tr].std()
    ytr = y[tr].copy()
    flip = rng.random(len(ytr)) < label_noise
    ytr[flip] = rng.integers(0, 10, int(flip.sum()))
    shape = (1, 8, 8) if images else (64,)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a.reshape(len(a), *shape)))  # noqa: E731
    return Data(t(x[tr]), torch.from_numpy(ytr), t(x[va]), torch.from_numpy(y[va]))


@dataclass(frozen=True)
class DemoRun:
    """One demo training: what it gets wrong, the finding that shows it, how it is built."""

    name: str
    headline: str
    mistake: str
    build: Callable[[int], tuple[nn.Module, torch.optim.Optimizer, Data]]
    steps: int
    batch: int = 64
    val_every: int = 12
    config: dict = field(default_factory=dict)
    explain: bool = False
    #: What a broken run stores to be compared with the healthy one (``weights``: models small
    #: enough that their weight pictures stay small).
    stores: tuple[str, ...] = ("predictions",)


def batches(n: int, size: int, seed: int) -> Iterator[torch.Tensor]:
    """The training batches of a demo run: ``size`` random indices below ``n``, forever."""
    gen = torch.Generator().manual_seed(seed + 1)
    while True:
        yield torch.randint(0, n, (min(size, n),), generator=gen)


def _healthy(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, Data]:
    m = DigitsCNN()
    return m, torch.optim.Adam(m.parameters(), lr=1e-3), load_digits_split()


NAN_FROM_STEP = 70


def _nan(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, Data]:
    m = AttentionMLP()
    d = load_digits_split(standardise=False, images=False)
    x = d.x / 16  # pixels in [0, 1] ...
    # ... except one image left at 0..255: the first one the batches reach at NAN_FROM_STEP or
    # later (by then every score it produces passes the softmax's overflow point, ~88).
    seen: set[int] = set()
    for step, ib in enumerate(batches(len(x), 64, seed)):
        fresh = [int(i) for i in ib if int(i) not in seen]
        if step >= NAN_FROM_STEP and fresh:
            x[fresh[0]] = x[fresh[0]] * 255
            break
        seen.update(fresh)
    return m, torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9), Data(x, d.y, d.xv / 16, d.yv)


def _vanishing(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, Data]:
    m = mlp([64] + [64] * 9 + [10], nn.Sigmoid)
    return m, torch.optim.SGD(m.parameters(), lr=0.1), load_digits_split(images=False)


def _dead(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, Data]:
    m = DigitsCNN()
    return m, torch.optim.Adam(m.parameters(), lr=0.05), load_digits_split()


def _overfit(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, Data]:
    m = mlp([64, 512, 512, 10])
    data = load_digits_split(images=False, train=120, label_noise=0.2)
    return m, torch.optim.Adam(m.parameters(), lr=1e-3), data


HEALTHY = DemoRun("demo-healthy-cnn", "", "none: standardised inputs, Adam at 1e-3", _healthy,
                  steps=138, config={"model": "cnn", "optimizer": "adam", "lr": 1e-3},
                  explain=True)
BROKEN: tuple[DemoRun, ...] = (
    DemoRun("demo-nan-softmax", "nonfinite", "one image stored as 0..255 and a hand-written "
            "softmax without max subtraction", _nan, steps=160,
            config={"model": "attention-mlp", "optimizer": "sgd", "lr": 0.05}),
    DemoRun("demo-vanishing-sigmoid", "vanishing_gradients", "ten stacked sigmoid layers",
            _vanishing, steps=160, config={"model": "sigmoid-mlp-10", "optimizer": "sgd",
                                           "lr": 0.1}, stores=("predictions", "weights")),
    DemoRun("demo-dead-relu-cnn", "dead_units", "Adam at a learning rate of 0.05", _dead,
            steps=92, config={"model": "cnn", "optimizer": "adam", "lr": 0.05},
            stores=("predictions", "weights")),
    DemoRun("demo-overfit-mlp", "overfitting", "120 training digits, 20% wrong labels, 600k "
            "parameters", _overfit, steps=300, batch=32, val_every=15,
            config={"model": "mlp-512", "optimizer": "adam", "lr": 1e-3, "train_samples": 120}),
)
ALL_RUNS: tuple[DemoRun, ...] = (HEALTHY, *BROKEN)


def _validate(run: ds.Run, model: nn.Module, data: Data, step: int) -> None:
    model.eval()
    with torch.no_grad():
        out = model(data.xv)
        run.log({"val/loss": nn.functional.cross_entropy(out, data.yv).item(),
                 "val/acc": (out.argmax(1) == data.yv).float().mean().item()}, step=step)
    model.train()


def train_demo(
    cfg: DemoRun,
    root: str | Path,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 0,
) -> Path:
    """Train one demo run into a run directory under ``root`` and return it."""
    # One intra-op thread: these models are too small to gain from more, and on a busy 2-core
    # machine two threads spin against each other (the overfit MLP: 42 s with two, 4.6 s with one).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(cfg, root, progress, seed)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: DemoRun, root: str | Path, progress: Callable[[int, int], None] | None,
           seed: int) -> Path:
    torch.manual_seed(seed)
    model, opt, data = cfg.build(seed)
    order = batches(len(data.x), cfg.batch, seed)
    config = {**cfg.config, "batch_size": cfg.batch, "steps": cfg.steps, "mistake": cfg.mistake}
    with ds.init(name=cfg.name, dir=root, config=config) as run:
        run.watch(model, optimizer=opt, every=5)
        model.train()
        for step, ib in zip(range(cfg.steps), order, strict=False):
            opt.zero_grad()
            out = model(data.x[ib])
            loss = nn.functional.cross_entropy(out, data.y[ib])
            loss.backward()
            opt.step()
            acc = (out.argmax(1) == data.y[ib]).float().mean().item()
            run.log({"train/loss": loss.item(), "train/acc": acc}, step=step)
            if progress is not None:
                progress(step + 1, cfg.steps)
            if not torch.isfinite(loss):  # what a training script does when the loss is NaN
                break
            if (step + 1) % cfg.val_every == 0 or step + 1 == cfg.steps:
                _validate(run, model, data, step)
        run.unwatch()  # explain forwards are not training steps
        from deepscope.demo_explain import log_demo_explanations, log_demo_results

        if cfg.explain:
            log_demo_explanations(run, model, data.xv, data.yv, step=cfg.steps - 1)
        else:
            log_demo_results(run, model, data.xv, data.yv, cfg.stores, step=cfg.steps - 1)
    if progress is not None:
        progress(cfg.steps, cfg.steps)
    return Path(run.path)


@dataclass(frozen=True)
class Headline:
    """What the diagnosis of one demo run leads with."""

    run: str
    mistake: str
    expected: str
    code: str | None
    severity: str | None
    layer: str | None
    step: int | None
    message: str


def headline(cfg: DemoRun, run_dir: str | Path) -> Headline:
    """The most severe finding of ``run_dir`` (its ``expected`` code first), as the CLI shows it."""
    from deepscope.diagnose import diagnose

    rank = {"error": 0, "warning": 1, "info": 2}
    findings = sorted(diagnose(run_dir).findings,
                      key=lambda f: (f.code != cfg.headline, rank.get(str(f.severity), 3)))
    serious = [f for f in findings if str(f.severity) in ("error", "warning")]
    if not serious:
        return Headline(cfg.name, cfg.mistake, cfg.headline, None, None, None, None,
                        "no problems found")
    f = serious[0]
    return Headline(cfg.name, cfg.mistake, cfg.headline, f.code, str(f.severity), f.layer,
                    f.step, f.message)
