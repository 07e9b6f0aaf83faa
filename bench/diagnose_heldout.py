"""Diagnosis on held-out trainings: scripts the rules were never tuned on.

The scenario suite (``tests/scenarios``) is what the thresholds were checked against; this file is
the other half of the measurement: trainings written afterwards in the style of outside code (each
with its own loop, its own tag names, no shared helpers), run once per seed and diagnosed. A
healthy case must learn (its validation metric improves, printed as ``learned``); a buggy case
has exactly one bug written into its code. Nothing here feeds back into a threshold.

    .venv/bin/python bench/diagnose_heldout.py [--seeds 0 1 2] [--batch all] [--only NAME]

The first batch is in this file, the second (written after the rules' last change, measured
once) in ``bench/heldout_second.py``.

Prints every run, then detection (buggy runs whose code was found), false alarms (healthy runs
with any warning) and, per code, recall and precision.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F  # noqa: N812

import deepscope as ds

warnings.filterwarnings("ignore")
T = torch.Tensor


def _split(x: np.ndarray, y: np.ndarray, seed: int, scale: bool = True,
           y_dtype: torch.dtype = torch.long) -> tuple[T, T, T, T]:
    xt, xv, yt, yv = train_test_split(x, y, train_size=0.75, random_state=seed)
    if scale:
        sc = StandardScaler().fit(xt)
        xt, xv = sc.transform(xt), sc.transform(xv)
    f = torch.float32
    return (torch.tensor(xt, dtype=f), torch.tensor(yt, dtype=y_dtype),
            torch.tensor(xv, dtype=f), torch.tensor(yv, dtype=y_dtype))


def _digit_rows(seed: int) -> tuple[T, T, T, T]:
    d = datasets.load_digits()
    x, y, xv, yv = _split(d.data / 16.0, d.target, seed, scale=False)
    return x.view(-1, 8, 8), y, xv.view(-1, 8, 8), yv


def _digit_images(seed: int) -> tuple[T, T, T, T]:
    x, y, xv, yv = _digit_rows(seed)
    return x.unsqueeze(1), y, xv.unsqueeze(1), yv


def _tokens(seed: int, n: int = 1024, vocab: int = 48, seq: int = 12) -> tuple[T, T]:
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, vocab, (n, 1), generator=g)
    stride = torch.randint(1, 3, (n, 1), generator=g)
    return (start + stride * torch.arange(seq)) % vocab, torch.empty(0)


def _accuracy(model: nn.Module, x: T, y: T) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        out = model(x)
        loss, acc = F.cross_entropy(out, y).item(), (out.argmax(-1) == y).float().mean().item()
    model.train()
    return loss, acc


class RowLSTM(nn.Module):
    def __init__(self, softmax: bool = False) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 64, num_layers=2, dropout=0.2, batch_first=True)
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(64, 10)
        self.softmax = softmax

    def forward(self, x: T) -> T:
        h, _ = self.lstm(x)
        z = self.out(self.drop(h[:, -1]))
        return z.softmax(-1) if self.softmax else z


class ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x: T) -> T:
        return F.relu(x + self.b2(self.c2(F.relu(self.b1(self.c1(x))))))


class TinyResNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(ResBlock(16), ResBlock(16))
        self.head = nn.Linear(16, 10)

    def forward(self, x: T) -> T:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


def _train_classifier(name: str, root: Path, model: nn.Module, opt: torch.optim.Optimizer,
                      data: tuple[T, T, T, T], seed: int, *, steps: int = 150, batch: int = 32,
                      sched: object = None, tags: tuple[str, str, str] = ("train_loss",
                                                                           "val_loss", "val_acc"),
                      zero_every: int = 1, eval_restores: bool = True, eval_first: bool = False,
                      shuffle_x_only: bool = False, clip: float | None = None,
                      loss_fn: Callable[[T, T], T] = F.cross_entropy) -> tuple[str, str]:
    """A hand-written loop (the variants are the bugs); returns the run path and what it learned."""
    x, y, xv, yv = data
    g = torch.Generator().manual_seed(seed)
    # The bug of shuffle_x_only: the inputs were permuted once (a sort, a shuffle) and the
    # labels were not, so every input keeps one wrong label.
    misaligned = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed + 1))
    run = ds.init(name=name, dir=root)
    run.watch(model, optimizer=opt)
    first_acc, best_acc = _accuracy(model, xv, yv)[1], 0.0
    model.train(not eval_first)  # eval_first: model.eval() left on from a check before training
    for step in range(steps):
        idx = torch.randint(0, len(x), (batch,), generator=g)
        xi = misaligned[idx] if shuffle_x_only else idx
        if step % zero_every == 0:
            opt.zero_grad()
        loss = loss_fn(model(x[xi]), y[idx])
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        if sched is not None:
            sched.step()
        run.log({tags[0]: loss.item()}, step=step)
        if (step + 1) % 15 == 0:
            model.eval()
            with torch.no_grad():
                out = model(xv)
                vl = loss_fn(out, yv).item()
                acc = (out.argmax(-1) == yv).float().mean().item()
            best_acc = max(best_acc, acc)
            run.log({tags[1]: vl, tags[2]: acc}, step=step)
            if eval_restores:
                model.train()
    run.finish()
    return run.path, f"val acc {first_acc:.2f} -> best {best_acc:.2f}"


# -- healthy -----------------------------------------------------------------------------------
def lstm_digit_rows(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    model = RowLSTM()
    return _train_classifier("lstm-rows", root, model,
                             torch.optim.Adam(model.parameters(), lr=3e-3), _digit_rows(seed), seed)


def resnet_onecycle(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    model = TinyResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=120)
    return _train_classifier("resnet-onecycle", root, model, opt, _digit_images(seed), seed,
                             steps=120, sched=sched, tags=("train/loss", "val/loss", "val/acc"))


def wine_small_batch_sgd(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_wine()
    model = nn.Sequential(nn.Linear(13, 32), nn.Tanh(), nn.Linear(32, 3))
    return _train_classifier("wine-sgd", root, model,
                             torch.optim.SGD(model.parameters(), lr=0.05),
                             _split(d.data, d.target, seed), seed, steps=200, batch=8,
                             tags=("loss", "eval_loss", "eval_accuracy"))


def breast_cancer_adamw_clip(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_breast_cancer()
    model = nn.Sequential(nn.Linear(30, 64), nn.GELU(), nn.Dropout(0.1), nn.Linear(64, 64),
                          nn.GELU(), nn.Linear(64, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 150)
    return _train_classifier("cancer-adamw", root, model, opt,
                             _split(d.data, d.target, seed), seed, sched=sched, clip=1.0)


def gradient_accumulation_cnn(root: Path, seed: int) -> tuple[str, str]:
    """Accumulation done right: four backwards, one step, then zero."""
    torch.manual_seed(seed)
    x, y, xv, yv = _digit_images(seed)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    run = ds.init(name="accum-cnn", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    first = _accuracy(model, xv, yv)[1]
    for step in range(80):
        for _ in range(4):
            idx = torch.randint(0, len(x), (16,), generator=g)
            loss = F.cross_entropy(model(x[idx]), y[idx]) / 4
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        run.log({"train/loss": loss.item() * 4}, step=step)
        if (step + 1) % 10 == 0:
            vl, acc = _accuracy(model, xv, yv)
            run.log({"val/loss": vl, "val/acc": acc}, step=step)
    run.finish()
    return run.path, f"val acc {first:.2f} -> {acc:.2f}"


def vae_digits(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_digits()
    x, _, xv, _ = _split(d.data / 16.0, d.target, seed, scale=False)

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(64, 64), nn.ReLU())
            self.mu, self.logvar = nn.Linear(64, 4), nn.Linear(64, 4)
            self.dec = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 64))

        def forward(self, x: T) -> tuple[T, T, T]:
            h = self.enc(x)
            mu, logvar = self.mu(h), self.logvar(h)
            z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
            return self.dec(z), mu, logvar

    def elbo(model: nn.Module, xb: T) -> T:
        logits, mu, logvar = model(xb)
        rec = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / len(xb)
        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum() / len(xb)
        return rec + kl

    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    run = ds.init(name="vae", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    vals = []
    for step in range(200):
        idx = torch.randint(0, len(x), (64,), generator=g)
        opt.zero_grad()
        loss = elbo(model, x[idx])
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()}, step=step)
        if (step + 1) % 20 == 0:
            with torch.no_grad():
                vals.append(elbo(model, xv).item())
            run.log({"val_loss": vals[-1]}, step=step)
    run.finish()
    return run.path, f"val elbo {vals[0]:.1f} -> {vals[-1]:.1f}"


def multilabel_bce(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    xs, ys = datasets.make_multilabel_classification(1200, 20, n_classes=5, random_state=seed)
    x, y, xv, yv = _split(xs, ys, seed, y_dtype=torch.float32)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 5))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    run = ds.init(name="multilabel", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    accs = []
    for step in range(150):
        idx = torch.randint(0, len(x), (32,), generator=g)
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        run.log({"train_loss": loss.item()}, step=step)
        if (step + 1) % 15 == 0:
            with torch.no_grad():
                out = model(xv)
                accs.append(((out > 0).float() == yv).float().mean().item())
                run.log({"val_loss": F.binary_cross_entropy_with_logits(out, yv).item()},
                        step=step)
    run.finish()
    return run.path, f"label acc {accs[0]:.2f} -> {accs[-1]:.2f}"


def raw_target_regression(root: Path, seed: int) -> tuple[str, str]:
    """Targets in the thousands, left unscaled, MSE and Adam (slow but healthy)."""
    torch.manual_seed(seed)
    xs, ys = datasets.make_regression(1000, 10, noise=5.0, random_state=seed)
    x, y, xv, yv = _split(xs, ys * 20 + 3000, seed, y_dtype=torch.float32)
    model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    run = ds.init(name="raw-regression", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    vals = []
    for step in range(200):
        idx = torch.randint(0, len(x), (64,), generator=g)
        opt.zero_grad()
        loss = F.mse_loss(model(x[idx]).squeeze(-1), y[idx])
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
        if (step + 1) % 20 == 0:
            with torch.no_grad():
                vals.append(F.mse_loss(model(xv).squeeze(-1), yv).item())
            run.log({"val/loss": vals[-1]}, step=step)
    run.finish()
    return run.path, f"val mse {vals[0]:.3g} -> {vals[-1]:.3g}"


def frozen_backbone_new_head(root: Path, seed: int) -> tuple[str, str]:
    """Transfer learning: a pre-trained backbone frozen with requires_grad=False, a new head."""
    torch.manual_seed(seed)
    d = datasets.load_digits()
    x, y, xv, yv = _split(d.data, d.target, seed)
    backbone = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU())
    pre = nn.Sequential(backbone, nn.Linear(32, 10))
    popt = torch.optim.Adam(pre.parameters(), lr=3e-3)
    for _ in range(100):  # "pre-training", not watched
        popt.zero_grad()
        F.cross_entropy(pre(x), y).backward()
        popt.step()
    for p in backbone.parameters():
        p.requires_grad_(False)
    model = nn.Sequential(backbone, nn.Linear(32, 10))
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    return _train_classifier("frozen-backbone", root, model, opt, (x, y, xv, yv), seed,
                             steps=100)


def gpt2_lm(root: Path, seed: int) -> tuple[str, str]:
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.manual_seed(seed)
    x, _ = _tokens(seed)
    xv, _ = _tokens(seed + 100, 128)
    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=48,
                                       n_positions=12, bos_token_id=0, eos_token_id=0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    total, warm = 100, 10
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (
        1 + math.cos(math.pi * min(1.0, s / total))))
    run = ds.init(name="gpt2-lm", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    vals = []
    for step in range(total):
        idx = torch.randint(0, len(x), (32,), generator=g)
        out = model(input_ids=x[idx], labels=x[idx])
        out.loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        run.log({"train_loss": out.loss.item(), "learning_rate": sched.get_last_lr()[0]},
                step=step)
        if (step + 1) % 20 == 0:
            model.eval()
            with torch.no_grad():
                vals.append(model(input_ids=xv, labels=xv).loss.item())
            model.train()
            run.log({"eval_loss": vals[-1]}, step=step)
    run.finish()
    return run.path, f"eval loss {vals[0]:.2f} -> {vals[-1]:.2f}"


def embedding_bag_tokens(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    toks = torch.randint(0, 200, (1500, 20), generator=g)
    y = ((toks < 60).sum(1) > 6).long()
    x, xv, yt, yv = toks[:1200], toks[1200:], y[:1200], y[1200:]

    class Bag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.EmbeddingBag(200, 16, mode="mean")
            self.fc = nn.Linear(16, 2)

        def forward(self, t: T) -> T:
            return self.fc(self.emb(t))

    model = Bag()
    return _train_classifier("embedding-bag", root, model,
                             torch.optim.Adam(model.parameters(), lr=1e-2), (x, yt, xv, yv), seed,
                             steps=150, batch=64)


# -- buggy (one bug each) ----------------------------------------------------------------------
def lstm_no_zero_grad(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    model = RowLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return _train_classifier("lstm-nozero", root, model, opt, _digit_rows(seed), seed,
                             zero_every=10**9)


def zero_grad_every_tenth_step(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_breast_cancer()
    model = nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Linear(32, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return _train_classifier("zero-every-10", root, model, opt, _split(d.data, d.target, seed),
                             seed, zero_every=10)


def resnet_eval_not_restored(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    model = TinyResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return _train_classifier("resnet-eval", root, model, opt, _digit_images(seed), seed,
                             steps=120, eval_restores=False)


def lstm_eval_from_the_start(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    model = RowLSTM()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    return _train_classifier("lstm-eval", root, model, opt, _digit_rows(seed), seed,
                             eval_first=True, eval_restores=False)


def wine_softmax_then_cross_entropy(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_wine()
    model = nn.Sequential(nn.Linear(13, 32), nn.ReLU(), nn.Linear(32, 3), nn.Softmax(-1))
    return _train_classifier("wine-softmax", root, model,
                             torch.optim.Adam(model.parameters(), lr=1e-2),
                             _split(d.data, d.target, seed), seed, steps=150, batch=16)


def lstm_softmax_head(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    model = RowLSTM(softmax=True)
    return _train_classifier("lstm-softmax", root, model,
                             torch.optim.Adam(model.parameters(), lr=3e-3), _digit_rows(seed),
                             seed)


def inputs_shuffled_without_labels(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_digits()
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    return _train_classifier("misaligned", root, model,
                             torch.optim.Adam(model.parameters(), lr=3e-3),
                             _split(d.data, d.target, seed), seed, steps=600,
                             shuffle_x_only=True)


def random_labels_wine(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_wine()
    x, _, xv, yv = _split(d.data, d.target, seed)
    y = torch.randint(0, 3, (len(x),), generator=torch.Generator().manual_seed(seed))
    model = nn.Sequential(nn.Linear(13, 256), nn.ReLU(), nn.Linear(256, 3))
    return _train_classifier("random-labels", root, model,
                             torch.optim.Adam(model.parameters(), lr=1e-2), (x, y, xv, yv), seed,
                             steps=300, tags=("loss", "eval_loss", "eval_accuracy"))


def fp16_weights_sgd(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_digits()
    x, y, xv, yv = _split(d.data, d.target, seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).half()

    class Half(nn.Module):
        def __init__(self, m: nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, t: T) -> T:
            return self.m(t.half()).float()

    net = Half(model)
    return _train_classifier("fp16-sgd", root, net, torch.optim.SGD(net.parameters(), lr=1e-3),
                             (x, y, xv, yv), seed)


def bf16_resnet_adam_small_lr(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    x, y, xv, yv = _digit_images(seed)
    model = TinyResNet().to(torch.bfloat16)

    class Cast(nn.Module):
        def __init__(self, m: nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, t: T) -> T:
            return self.m(t.bfloat16()).float()

    net = Cast(model)
    return _train_classifier("bf16-resnet", root, net,
                             torch.optim.Adam(net.parameters(), lr=1e-5), (x, y, xv, yv), seed,
                             steps=90)


def head_missing_from_optimizer(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_digits()
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(model[0].parameters(), lr=3e-3)
    return _train_classifier("head-not-optimized", root, model, opt,
                             _split(d.data, d.target, seed), seed)


HEALTHY = [lstm_digit_rows, resnet_onecycle, wine_small_batch_sgd, breast_cancer_adamw_clip,
           gradient_accumulation_cnn, vae_digits, multilabel_bce, raw_target_regression,
           frozen_backbone_new_head, gpt2_lm, embedding_bag_tokens]
BUGGY = {
    lstm_no_zero_grad: "gradients_not_zeroed",
    zero_grad_every_tenth_step: "gradients_not_zeroed",
    resnet_eval_not_restored: "train_in_eval_mode",
    lstm_eval_from_the_start: "train_in_eval_mode",
    wine_softmax_then_cross_entropy: "double_softmax",
    lstm_softmax_head: "double_softmax",
    inputs_shuffled_without_labels: "no_generalization",
    random_labels_wine: "no_generalization",
    fp16_weights_sgd: "update_underflow",
    bf16_resnet_adam_small_lr: "update_underflow",
    head_missing_from_optimizer: "frozen_parameters",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--only", default=None)
    ap.add_argument("--batch", choices=("first", "second", "all"), default="all",
                    help="first: this file's cases; second: bench/heldout_second.py")
    args = ap.parse_args()
    torch.set_num_threads(1)
    import heldout_second as second

    cases = []
    if args.batch in ("first", "all"):
        cases += [(fn, "") for fn in HEALTHY] + list(BUGGY.items())
    if args.batch in ("second", "all"):
        cases += [(fn, "") for fn in second.HEALTHY] + list(second.BUGGY.items())
    healthy_clean = healthy_n = found = buggy_n = 0
    per_code: dict[str, list[int]] = {}  # code -> [labelled, found when labelled, flagged, right]
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for i, (fn, code) in enumerate(cases):
                if args.only and args.only != fn.__name__:
                    continue
                t = time.perf_counter()
                path, learned = fn(Path(tmp) / f"{seed}-{i}", seed)
                got = set(ds.diagnose(path).codes("warning"))
                ok = (code in got) if code else not got
                if code:
                    buggy_n += 1
                    found += ok
                else:
                    healthy_n += 1
                    healthy_clean += ok
                for c in got | ({code} if code else set()):
                    s = per_code.setdefault(c, [0, 0, 0, 0])
                    s[0] += c == code
                    s[1] += c == code and c in got
                    s[2] += c in got
                    s[3] += c in got and c == code
                print(f"{'ok ' if ok else 'BAD'} {fn.__name__ + f' seed {seed}':42s} "
                      f"{time.perf_counter() - t:4.1f} s expected={code or '-':22s} "
                      f"found={sorted(got)}  ({learned})", flush=True)
    print(f"\nheld-out: bugs found {found}/{buggy_n} = {found / max(buggy_n, 1):.0%}; healthy "
          f"clean {healthy_clean}/{healthy_n} = {healthy_clean / max(healthy_n, 1):.0%}")
    print(f"{'code':24s} {'recall':>8s} {'precision':>10s}")
    for c, (lab, hit, flagged, right) in sorted(per_code.items()):
        rec = f"{hit}/{lab}" if lab else "-"
        print(f"{c:24s} {rec:>8s} {f'{right}/{flagged}' if flagged else '-':>10s}")


if __name__ == "__main__":
    main()
