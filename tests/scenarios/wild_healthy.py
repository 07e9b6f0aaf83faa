"""Healthy trainings that look unusual: diagnosis must stay silent on every one of them.

Each reproduces a training people really run (transformers models, a GAN, AMP, accumulation,
checkpointing, schedules, fine-tuning, big regression targets, very short runs) and returns the
run with the probe's raw measurements, which prove the training is healthy.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

import deepscope as ds
from scenarios import tasks, zoo
from scenarios.common import digits, mlp, moons
from scenarios.loops import Outcome, classifier_eval, fit, indexed, lm_eval, warmup_cosine
from scenarios.probe import Probe


def _hf_cls_loss(out, y):  # noqa: ANN001, ANN202
    return F.cross_entropy(out.logits, y)


def _lm(model: nn.Module, x: torch.Tensor):  # noqa: ANN202
    return model(input_ids=x, labels=x)


def bert_tiny_classifier(root: Path, seed: int) -> Outcome:
    """BertForSequenceClassification reaching ~100% accuracy: query/key gradients are tiny by
    design (uniform attention at init, LayerNorm in between), not vanishing.
    """
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_classes(seed)
    model = zoo.bert()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    run = ds.init(name="bert-tiny", dir=root, config={"lr": 1e-3})
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.5)
    evaluate = classifier_eval(run, model, d.xv, d.yv, probe, logits=lambda o: o.logits)
    fit(run, model, opt, indexed(d.x, d.y, 32, seed, _hf_cls_loss), probe, steps=80,
        evaluate=evaluate, eval_every=20)
    run.finish()
    return Outcome(Path(run.path), probe)


def regression_large_targets(root: Path, seed: int) -> Outcome:
    """Targets around 5,000 (raw units): big loss, big gradients, a perfectly healthy fit."""
    torch.manual_seed(seed)
    d = tasks.large_targets(seed)
    model = mlp([10, 64, 64, 1])
    with torch.no_grad():
        model[-1].bias.fill_(float(d.y.mean()))  # start at the mean target
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    run = ds.init(name="regression-5000", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()

    def loss(out, y):  # noqa: ANN001, ANN202
        return F.mse_loss(out.squeeze(-1), y)

    def evaluate(step: int) -> None:
        with torch.no_grad():
            vl = loss(model(d.xv), d.yv).item()
        run.log({"val/loss": vl}, step=step)
        probe.evaluated(step, vl)

    fit(run, model, opt, indexed(d.x, d.y, 32, seed, loss), probe, steps=300,
        evaluate=evaluate, eval_every=20)
    run.finish()
    return Outcome(Path(run.path), probe)


def finetune_converged(root: Path, seed: int) -> Outcome:
    """An MLP trained to convergence first, then fine-tuned at lr 1e-4: flat, noisy, val falling."""
    torch.manual_seed(seed)
    d = digits(seed=seed)
    model = mlp([64, 128, 64, 10])
    pre = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(400):  # "pretraining", not watched
        idx = torch.randint(0, len(d.x), (64,), generator=gen)
        pre.zero_grad()
        F.cross_entropy(model(d.x[idx]), d.y[idx]).backward()
        pre.step()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    run = ds.init(name="finetune-converged", dir=root, config={"lr": 1e-4})
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    fit(run, model, opt, indexed(d.x, d.y, 64, seed, F.cross_entropy), probe, steps=150,
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=15)
    run.finish()
    return Outcome(Path(run.path), probe)


def gan_moons(root: Path, seed: int) -> Outcome:
    """A GAN on two moons; the discriminator loss is logged as ``loss`` (it never descends
    monotonically), and the discriminator runs three times per iteration.
    """
    torch.manual_seed(seed)
    real = moons(n=2000).x
    g, dis = zoo.Generator(), zoo.Discriminator()
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(dis.parameters(), lr=1e-3, betas=(0.5, 0.999))
    run = ds.init(name="gan-moons", dir=root)
    run.watch(g, optimizer=opt_g, name="G")
    run.watch(dis, optimizer=opt_d, name="D")
    probe = Probe()
    gen = torch.Generator().manual_seed(seed)
    bce = nn.BCEWithLogitsLoss()
    for step in range(300):
        xb = real[torch.randint(0, len(real), (64,), generator=gen)]
        fake = g(torch.randn(64, 8, generator=gen))
        opt_d.zero_grad()
        out = dis(xb)
        probe.forward(dis, out)
        loss_d = bce(out, torch.ones_like(out)) + bce(dis(fake.detach()), torch.zeros(64, 1))
        probe.backward(dis)
        loss_d.backward()
        probe.before_step(list(dis.parameters()))
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(dis(fake), torch.ones(64, 1))
        loss_g.backward()
        opt_g.step()
        probe.after_step(loss_d.item())
        run.log({"loss": loss_d.item(), "g_loss": loss_g.item()}, step=step)
        if (step + 1) % 30 == 0:
            with torch.no_grad():
                sample = g(torch.randn(512, 8, generator=gen))
            # Distance between sample and data moments: falls as G learns the moons.
            gap = (sample.mean(0) - real.mean(0)).norm() + (sample.std(0) - real.std(0)).norm()
            probe.evaluated(step, float(gap))
    run.finish()
    return Outcome(Path(run.path), probe)


def gpt2_warmup_cosine_hf_logging(root: Path, seed: int) -> Outcome:
    """GPT-2 with warm-up from lr 0 and cosine decay; logs ``loss`` per step and a one-off
    ``train_loss`` summary at the end, the way transformers' Trainer does.
    """
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_sequences(seed)
    model = zoo.gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    run = ds.init(name="gpt2-cosine", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()
    steps = 100
    fit(run, model, opt, indexed(d.x, None, 16, seed, lambda out, _: out.loss, _lm), probe,
        steps=steps, scheduler=warmup_cosine(opt, 10, steps), tag="loss",
        evaluate=lm_eval(run, model, d.xv, probe), eval_every=20)
    run.log({"train_loss": float(sum(probe.losses) / len(probe.losses))}, step=steps)
    run.finish()
    return Outcome(Path(run.path), probe)


def llama_gradient_accumulation(root: Path, seed: int) -> Outcome:
    """LLaMA with four micro-batches per optimizer step (k backwards, step, zero)."""
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_sequences(seed)
    model = zoo.llama(num_hidden_layers=3)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    run = ds.init(name="llama-accumulation", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()
    fit(run, model, opt, indexed(d.x, None, 8, seed, lambda out, _: out.loss, _lm), probe,
        steps=30, accumulate=4, evaluate=lm_eval(run, model, d.xv, probe), eval_every=10)
    run.finish()
    return Outcome(Path(run.path), probe)


def gpt2_gradient_checkpointing(root: Path, seed: int) -> Outcome:
    """A 4-block GPT-2 with activation checkpointing: every block's forward runs twice a step."""
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_sequences(seed)
    model = zoo.gpt2(n_layer=4)
    # transformers 5 renamed it; 4.x only has the old name.
    enable = getattr(model, "activation_checkpointing_enable", None)
    (enable or model.gradient_checkpointing_enable)()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    run = ds.init(name="gpt2-checkpointing", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()
    fit(run, model, opt, indexed(d.x, None, 16, seed, lambda out, _: out.loss, _lm), probe,
        steps=50, clip=1.0, evaluate=lm_eval(run, model, d.xv, probe), eval_every=10)
    run.finish()
    return Outcome(Path(run.path), probe)


def cnn_bf16_autocast_gradscaler(root: Path, seed: int) -> Outcome:
    """bf16 autocast with fp32 master weights and a GradScaler whose first steps overflow."""
    torch.manual_seed(seed)
    d = tasks.digit_images(seed)
    model = zoo.DropoutCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**127)
    run = ds.init(name="cnn-autocast", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)

    def loss(out, y):  # noqa: ANN001, ANN202
        return F.cross_entropy(out.float(), y)

    fit(run, model, opt, indexed(d.x, d.y, 64, seed, loss), probe, steps=100, autocast=True,
        scaler=scaler, evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=20)
    run.finish()
    return Outcome(Path(run.path), probe)


def autoencoder_digits(root: Path, seed: int) -> Outcome:
    """A sigmoid-output autoencoder: outputs in [0, 1] that are not a distribution."""
    torch.manual_seed(seed)
    d = digits(seed=seed, scale=False)
    x, xv = d.x / 16.0, d.xv / 16.0
    model = zoo.AutoEncoder()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = ds.init(name="autoencoder", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()

    def evaluate(step: int) -> None:
        with torch.no_grad():
            vl = F.mse_loss(model(xv), xv).item()
        run.log({"val/loss": vl}, step=step)
        probe.evaluated(step, vl)

    fit(run, model, opt, indexed(x, None, 64, seed, F.mse_loss), probe, steps=200,
        evaluate=evaluate, eval_every=20)
    run.finish()
    return Outcome(Path(run.path), probe)


def thirty_step_cnn(root: Path, seed: int) -> Outcome:
    """A run of 30 steps only: three sampled steps and a handful of loss points."""
    torch.manual_seed(seed)
    d = tasks.digit_images(seed)
    model = zoo.DropoutCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    run = ds.init(name="thirty-steps", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    fit(run, model, opt, indexed(d.x, d.y, 64, seed, F.cross_entropy), probe, steps=30,
        evaluate=classifier_eval(run, model, d.xv, d.yv, probe), eval_every=5)
    run.finish()
    return Outcome(Path(run.path), probe)
