"""More healthy trainings that resemble a bug: each is one step away from one of the new codes.

Frozen BatchNorm statistics (not ``train_in_eval_mode``), an evaluation forward without
``no_grad`` (not ``train_in_eval_mode``), ``log_softmax`` + NLL and soft-target distillation (not
``double_softmax``), bf16 autocast at a small learning rate and pure bf16 weights at a large one
(not ``update_underflow``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

import deepscope as ds
from scenarios import common, tasks, zoo
from scenarios.common import digits, mlp
from scenarios.loops import Outcome, classifier_eval, fit, indexed, lm_eval, warmup_cosine
from scenarios.probe import Probe


def _pretrained_resnet(seed: int, d) -> nn.Module:  # noqa: ANN001
    from models import ResNetTiny

    torch.manual_seed(seed)
    model = ResNetTiny(channels=8)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(150):  # "pretraining", not watched
        idx = torch.randint(0, len(d.x), (64,), generator=gen)
        opt.zero_grad()
        F.cross_entropy(model(d.x[idx]), d.y[idx]).backward()
        opt.step()
    return model


def frozen_batchnorm_finetune(root: Path, seed: int) -> Outcome:
    """Fine-tuning with BatchNorm statistics frozen on purpose (``bn.eval()`` after
    ``model.train()``), the detection-model recipe: the root trains, only the norms are fixed.
    """
    d = tasks.digit_images(seed)
    model = _pretrained_resnet(seed, d)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    run = ds.init(name="frozen-bn", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    gen = torch.Generator().manual_seed(seed)
    evaluate = classifier_eval(run, model, d.xv, d.yv, probe)
    for step in range(60):
        model.train()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()  # keep the pretrained running statistics
        idx = torch.randint(0, len(d.x), (64,), generator=gen)
        opt.zero_grad()
        out = model(d.x[idx])
        probe.forward(model, out)
        loss = F.cross_entropy(out, d.y[idx])
        probe.backward(model)
        loss.backward()
        probe.before_step(list(model.parameters()))
        opt.step()
        probe.after_step(loss.item())
        run.log({"train/loss": loss.item()}, step=step)
        if (step + 1) % 10 == 0:
            evaluate(step)
    run.finish()
    return Outcome(Path(run.path), probe)


def validation_without_no_grad(root: Path, seed: int) -> Outcome:
    """Validation at the top of every 40th step in eval mode but with gradients enabled (no
    ``torch.no_grad``): wasteful, harmless; training itself always runs in train mode.
    """
    torch.manual_seed(seed)
    d = tasks.digit_images(seed)
    model = zoo.DropoutCNN()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    run = ds.init(name="val-with-grad", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    gen = torch.Generator().manual_seed(seed)
    for step in range(120):
        if step % 40 == 0:
            model.eval()
            out = model(d.xv)  # forgot torch.no_grad(): builds a graph nobody uses
            vl = F.cross_entropy(out, d.yv).item()
            acc = (out.argmax(-1) == d.yv).float().mean().item()
            run.log({"val/loss": vl, "val/acc": acc}, step=step)
            probe.evaluated(step, vl, acc)
        model.train()
        idx = torch.randint(0, len(d.x), (64,), generator=gen)
        opt.zero_grad()
        out = model(d.x[idx])
        probe.forward(model, out)
        loss = F.cross_entropy(out, d.y[idx])
        probe.backward(model)
        loss.backward()
        probe.before_step(list(model.parameters()))
        opt.step()
        probe.after_step(loss.item())
        run.log({"train/loss": loss.item()}, step=step)
    run.finish()
    return Outcome(Path(run.path), probe)


class LogSoftmaxMLP(nn.Module):
    """The PyTorch MNIST example's head: ``log_softmax`` outputs trained with ``nll_loss``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = mlp([64, 128, 10])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.net(x), dim=1)


def log_softmax_nll(root: Path, seed: int) -> Outcome:
    """Log-probabilities (<= 0, rows do not sum to 1) with NLL: one softmax, correctly."""
    torch.manual_seed(seed)
    d = digits(seed=seed)
    model = LogSoftmaxMLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = ds.init(name="log-softmax-nll", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    fit(run, model, opt, indexed(d.x, d.y, 64, seed, F.nll_loss), probe, steps=150,
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe, loss=F.nll_loss),
        eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)


def distillation_soft_targets(root: Path, seed: int) -> Outcome:
    """A student fitted to a teacher's softened probabilities with KL divergence: the
    probabilities are targets, the student outputs logits.
    """
    torch.manual_seed(seed)
    d = digits(seed=seed)
    teacher = mlp([64, 256, 10])
    topt = torch.optim.Adam(teacher.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(200):  # the teacher, not watched
        idx = torch.randint(0, len(d.x), (64,), generator=gen)
        topt.zero_grad()
        F.cross_entropy(teacher(d.x[idx]), d.y[idx]).backward()
        topt.step()
    with torch.no_grad():
        soft = F.softmax(teacher(d.x) / 2.0, dim=1)
    student = mlp([64, 32, 10])
    opt = torch.optim.Adam(student.parameters(), lr=2e-3)
    run = ds.init(name="distillation", dir=root)
    run.watch(student, optimizer=opt)
    probe = Probe(chance=0.1)

    def kd(out, target):  # noqa: ANN001, ANN202
        return F.kl_div(F.log_softmax(out / 2.0, dim=1), target, reduction="batchmean")

    fit(run, student, opt, indexed(d.x, soft, 64, seed, kd), probe, steps=150,
        evaluate=classifier_eval(run, student, d.xv, d.yv, probe), eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)


def llama_bf16_autocast_small_lr(root: Path, seed: int) -> Outcome:
    """LLaMA under bf16 autocast at lr 3e-4 with warm-up: fp32 master weights take every update."""
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_sequences(seed)
    model = zoo.llama()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    run = ds.init(name="llama-autocast", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()
    fit(run, model, opt,
        indexed(d.x, None, 16, seed, lambda out, _: out.loss.float(),
                lambda m, x: m(input_ids=x, labels=x)),
        probe, steps=50, autocast=True, scheduler=warmup_cosine(opt, 5, 50),
        evaluate=lm_eval(run, model, d.xv, probe), eval_every=10)
    run.finish()
    return Outcome(Path(run.path), probe)


def bf16_weights_large_lr(root: Path, seed: int) -> Outcome:
    """Pure bf16 weights (no fp32 copy) with Adam at lr 2e-3: steps of ~2e-3 are far above
    half a bf16 ulp of weights ~0.05, so updates land (most elements move every step).
    """
    torch.manual_seed(seed)
    d = digits(seed=seed)
    model = mlp([64, 128, 64, 10]).to(torch.bfloat16)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    run = ds.init(name="bf16-weights", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    x, xv = d.x.to(torch.bfloat16), d.xv.to(torch.bfloat16)

    def loss(out, y):  # noqa: ANN001, ANN202
        return F.cross_entropy(out.float(), y)

    fit(run, model, opt, indexed(x, d.y, 64, seed, loss), probe, steps=150,
        evaluate=classifier_eval(run, model, xv, d.yv, probe, loss=loss), eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)


def sgd_step_lr_cnn(root: Path, seed: int) -> Outcome:
    """SGD + momentum with a step decay (lr / 10 at step 60): the loss drops in two stages."""
    torch.manual_seed(seed)
    d = tasks.digit_images(seed)
    model = zoo.DropoutCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    run = ds.init(name="sgd-steplr", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    fit(run, model, opt, indexed(d.x, d.y, 64, seed, F.cross_entropy), probe, steps=120,
        scheduler=torch.optim.lr_scheduler.StepLR(opt, 60, 0.1),
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)


def resnet_one_cycle(root: Path, seed: int) -> Outcome:
    """A BatchNorm ResNet under OneCycleLR at max lr 0.1: the validation loss may jump at the
    peak of the schedule, then the run ends at its best.
    """
    torch.manual_seed(seed)
    d = common.digit_images()
    model = zoo.ResNetBN()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    run = ds.init(name="resnet-one-cycle", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    fit(run, model, opt, indexed(d.x, d.y, 32, seed, F.cross_entropy), probe, steps=120,
        scheduler=torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=120),
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)
