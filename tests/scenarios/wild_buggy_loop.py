"""Buggy trainings whose bug is in the training loop: ``gradients_not_zeroed`` and
``train_in_eval_mode``. Each loop is written out the way the mistake is made.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F  # noqa: N812

import deepscope as ds
from scenarios import tasks, zoo
from scenarios.common import digits, mlp
from scenarios.loops import Outcome, classifier_eval, fit, indexed, lm_eval
from scenarios.probe import Probe


# -- gradients_not_zeroed -----------------------------------------------------------------------
def gpt2_no_zero_grad(root: Path, seed: int) -> Outcome:
    """A GPT-2 loop with no ``zero_grad`` at all: every step applies the sum of all gradients."""
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_sequences(seed)
    model = zoo.gpt2()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    run = ds.init(name="gpt2-no-zero-grad", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()
    evaluate = lm_eval(run, model, d.xv, probe)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(60):
        x = d.x[torch.randint(0, len(d.x), (16,), generator=gen)]
        out = model(input_ids=x, labels=x)
        probe.forward(model, out)
        probe.backward(model)
        out.loss.backward()
        probe.before_step(list(model.parameters()))
        opt.step()
        probe.after_step(out.loss.item())
        run.log({"train/loss": out.loss.item()}, step=step)
        if (step + 1) % 15 == 0:
            evaluate(step)
    run.finish()
    return Outcome(Path(run.path), probe)


def zero_grad_before_the_loop(root: Path, seed: int) -> Outcome:
    """``optimizer.zero_grad()`` called once, above the loop instead of inside it."""
    torch.manual_seed(seed)
    d = digits(seed=seed)
    model = mlp([64, 128, 64, 10])
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    run = ds.init(name="zero-grad-outside", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    evaluate = classifier_eval(run, model, d.xv, d.yv, probe)
    gen = torch.Generator().manual_seed(seed)
    opt.zero_grad()
    for step in range(100):
        idx = torch.randint(0, len(d.x), (64,), generator=gen)
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


def accumulation_zeroes_too_rarely(root: Path, seed: int) -> Outcome:
    """Gradient accumulation done backwards: ``step()`` after every micro-batch, ``zero_grad()``
    only every 4th, so 3 of 4 steps re-apply the previous gradients.
    """
    torch.manual_seed(seed)
    d = tasks.digit_images(seed)
    model = zoo.DropoutCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = ds.init(name="accumulation-backwards", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    evaluate = classifier_eval(run, model, d.xv, d.yv, probe)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(80):
        idx = torch.randint(0, len(d.x), (32,), generator=gen)
        out = model(d.x[idx])
        probe.forward(model, out)
        loss = F.cross_entropy(out, d.y[idx]) / 4
        probe.backward(model)
        loss.backward()
        probe.before_step(list(model.parameters()))
        opt.step()
        probe.after_step(loss.item() * 4)
        if (step + 1) % 4 == 0:
            opt.zero_grad()
        run.log({"train/loss": loss.item() * 4}, step=step)
        if (step + 1) % 10 == 0:
            evaluate(step)
    run.finish()
    return Outcome(Path(run.path), probe)


# -- train_in_eval_mode -------------------------------------------------------------------------
def bert_eval_never_restored(root: Path, seed: int) -> Outcome:
    """BERT fine-tuning whose evaluation calls ``model.eval()`` and never ``model.train()``:
    from the first evaluation (step 10) on, dropout is off.
    """
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_classes(seed)
    model = zoo.bert()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    run = ds.init(name="bert-eval-left-on", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.5)
    evaluate = classifier_eval(run, model, d.xv, d.yv, probe, logits=lambda o: o.logits,
                               restore_train=False)
    fit(run, model, opt, indexed(d.x, d.y, 32, seed, lambda o, y: F.cross_entropy(o.logits, y)),
        probe, steps=80, evaluate=evaluate, eval_every=10)
    run.finish()
    return Outcome(Path(run.path), probe)


def cnn_eval_before_training(root: Path, seed: int) -> Outcome:
    """``model.eval()`` for a sanity check of the output shape, then training starts: BatchNorm
    never updates its statistics and dropout never drops.
    """
    torch.manual_seed(seed)
    d = tasks.digit_images(seed)
    model = zoo.DropoutCNN()
    model.eval()
    with torch.no_grad():
        assert model(d.x[:2]).shape == (2, 10)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    run = ds.init(name="cnn-eval-before", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe(chance=0.1)
    gen = torch.Generator().manual_seed(seed)
    for step in range(60):  # no model.train() anywhere
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
            with torch.no_grad():
                vl = F.cross_entropy(model(d.xv), d.yv).item()
            run.log({"val/loss": vl}, step=step)
            probe.evaluated(step, vl)
    run.finish()
    return Outcome(Path(run.path), probe)


def llama_eval_after_sampling(root: Path, seed: int) -> Outcome:
    """A LLaMA loop that generates a sample at step 5 under ``model.eval()`` and forgets to switch
    back (the transformers model has no Dropout module: only the root's flag shows it).
    """
    zoo.quiet_transformers()
    torch.manual_seed(seed)
    d = tasks.token_sequences(seed)
    model = zoo.llama(attention_dropout=0.1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    run = ds.init(name="llama-eval-after-sample", dir=root)
    run.watch(model, optimizer=opt)
    probe = Probe()
    gen = torch.Generator().manual_seed(seed)

    def step_loss(m):  # noqa: ANN001, ANN202
        x = d.x[torch.randint(0, len(d.x), (16,), generator=gen)]
        out = m(input_ids=x, labels=x)
        return out, out.loss

    def sample_and_evaluate(step: int) -> None:
        if step == 4:
            model.eval()
            with torch.no_grad():
                model.generate(d.xv[:1, :4], max_new_tokens=4, do_sample=False)
        with torch.no_grad():
            vl = model(input_ids=d.xv, labels=d.xv).loss.item()
        run.log({"val/loss": vl}, step=step)
        probe.evaluated(step, vl)

    fit(run, model, opt, step_loss, probe, steps=50, evaluate=sample_and_evaluate,
        eval_every=5)
    run.finish()
    return Outcome(Path(run.path), probe)
