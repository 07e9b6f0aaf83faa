"""Buggy trainings whose bug is in the model, the data or the precision, not in the loop:
``double_softmax``, ``no_generalization``, ``update_underflow``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

import deepscope as ds
from scenarios import tasks, zoo
from scenarios.common import digits, mlp
from scenarios.loops import Outcome, classifier_eval, fit, indexed, lm_eval, warmup_cosine
from scenarios.probe import Probe


# -- double_softmax -----------------------------------------------------------------------------
def softmax_head_mlp(root: Path, seed: int) -> Outcome:
    """An MLP ending in ``nn.Softmax`` trained with ``nn.CrossEntropyLoss``."""
    torch.manual_seed(seed)
    d = digits(seed=seed)
    model = nn.Sequential(mlp([64, 128, 64, 10]), nn.Softmax(dim=1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = ds.init(name="softmax-head-mlp", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    loss = nn.CrossEntropyLoss()
    fit(run, model, opt, indexed(d.x, d.y, 64, seed, loss), probe, steps=150,
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)


def softmax_in_forward_cnn(root: Path, seed: int) -> Outcome:
    """A CNN whose ``forward`` returns ``softmax(logits)``, trained with ``F.cross_entropy``."""
    torch.manual_seed(seed)
    d = tasks.digit_images(seed)
    model = zoo.DropoutCNN(softmax=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    run = ds.init(name="softmax-forward-cnn", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    fit(run, model, opt, indexed(d.x, d.y, 64, seed, F.cross_entropy), probe, steps=100,
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=10)
    run.finish()
    return Outcome(Path(run.path), probe)


def softmax_head_transformer(root: Path, seed: int) -> Outcome:
    """A token transformer classifier with a softmax head and cross-entropy."""
    torch.manual_seed(seed)
    d = tasks.token_classes(seed)
    model = zoo.TokenClassifier(head=nn.Softmax(dim=-1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    run = ds.init(name="softmax-head-transformer", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.5)
    fit(run, model, opt, indexed(d.x, d.y, 32, seed, F.cross_entropy), probe, steps=80,
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=10)
    run.finish()
    return Outcome(Path(run.path), probe)


# -- no_generalization --------------------------------------------------------------------------
def _memorise(name: str, root: Path, seed: int, d, model: nn.Module, steps: int,  # noqa: ANN001
              chance: float, lr: float = 1e-3) -> Outcome:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    run = ds.init(name=name, dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=chance)
    fit(run, model, opt, indexed(d.x, d.y, 32, seed, F.cross_entropy), probe, steps=steps,
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=steps // 10)
    run.finish()
    return Outcome(Path(run.path), probe)


def shuffled_labels_mlp(root: Path, seed: int) -> Outcome:
    """Training labels shuffled separately from the images (a misaligned join); 300 digits."""
    torch.manual_seed(seed)
    d = digits(seed=seed, train=300)
    gen = torch.Generator().manual_seed(seed)
    d.y = d.y[torch.randperm(len(d.y), generator=gen)]
    return _memorise("shuffled-labels", root, seed, d, mlp([64, 512, 10]), 300, 0.1)


def random_labels_transformer(root: Path, seed: int) -> Outcome:
    """A token transformer fitted to random training labels (a labelling-script bug)."""
    torch.manual_seed(seed)
    d = tasks.token_classes(seed, n=128)
    d.y = torch.randint(0, 2, (len(d.y),), generator=torch.Generator().manual_seed(seed))
    model = zoo.TokenClassifier()
    return _memorise("random-labels-transformer", root, seed, d, model, 200, 0.5, lr=3e-3)


def labels_off_by_one(root: Path, seed: int) -> Outcome:
    """A collate bug pairs every image with the next sample's label (``y.roll(1)``); a GELU MLP
    with SGD + momentum memorises the pairs.
    """
    torch.manual_seed(seed)
    d = digits(seed=seed, train=300)
    d.y = d.y.roll(1)
    model = mlp([64, 512, 256, 10], nn.GELU)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    run = ds.init(name="labels-off-by-one", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    fit(run, model, opt, indexed(d.x, d.y, 32, seed, F.cross_entropy), probe, steps=300,
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=30)
    run.finish()
    return Outcome(Path(run.path), probe)


# -- update_underflow ---------------------------------------------------------------------------
def _lm_loss(out, _):  # noqa: ANN001, ANN202
    return out.loss.float()


def _lm_call(m: nn.Module, x: torch.Tensor):  # noqa: ANN202
    return m(input_ids=x, labels=x)


def gpt2_bf16_weights(root: Path, seed: int) -> Outcome:
    """GPT-2 cast to bf16 (``model.to(torch.bfloat16)``) and AdamW at lr 1e-5: updates of ~1e-5
    are below half a bf16 ulp of weights ~0.02, so most elements never change.
    """
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_sequences(seed)
    model = zoo.gpt2().to(torch.bfloat16)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    run = ds.init(name="gpt2-bf16", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()
    fit(run, model, opt, indexed(d.x, None, 16, seed, _lm_loss, _lm_call), probe, steps=60,
        evaluate=lm_eval(run, model, d.xv, probe), eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)


def bf16_mlp_sgd(root: Path, seed: int) -> Outcome:
    """A bf16 MLP with plain SGD at lr 1e-3: ``lr * grad`` rounds away against the weights."""
    torch.manual_seed(seed)
    d = digits(seed=seed)
    model = mlp([64, 128, 64, 10]).to(torch.bfloat16)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    run = ds.init(name="bf16-sgd", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    x, xv = d.x.to(torch.bfloat16), d.xv.to(torch.bfloat16)

    def loss(out, y):  # noqa: ANN001, ANN202
        return F.cross_entropy(out.float(), y)

    fit(run, model, opt, indexed(x, d.y, 64, seed, loss), probe, steps=120,
        evaluate=classifier_eval(run, model, xv, d.yv, probe, loss=loss), eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)


def llama_bf16_cosine(root: Path, seed: int) -> Outcome:
    """LLaMA in bf16 with a warm-up + cosine schedule peaking at 2e-5 (a fine-tuning recipe
    applied without fp32 master weights).
    """
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_sequences(seed)
    model = zoo.llama().to(torch.bfloat16)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.0)
    run = ds.init(name="llama-bf16", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()
    fit(run, model, opt, indexed(d.x, None, 16, seed, _lm_loss, _lm_call), probe, steps=60,
        scheduler=warmup_cosine(opt, 6, 60), evaluate=lm_eval(run, model, d.xv, probe),
        eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)
