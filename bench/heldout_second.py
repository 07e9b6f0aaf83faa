"""The second batch of held-out trainings (``bench/diagnose_heldout.py --batch second``).

Written after the rules' last change and measured once: GAN in the style of the PyTorch DCGAN
tutorial, a real ``transformers.Trainer``, a convolutional autoencoder, label smoothing,
distillation, mixup, LLaMA under bf16 autocast, Huber regression on large targets; and one bug
each in a GAN, a GPT-2 loop, a GRU classifier, a sorted-labels dataset and bf16 weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from diagnose_heldout import _accuracy, _digit_images, _split, _tokens, _train_classifier
from sklearn import datasets
from torch import nn
from torch.nn import functional as F  # noqa: N812

import deepscope as ds

T = torch.Tensor


def _moons(seed: int, n: int = 2000) -> T:
    x, _ = datasets.make_moons(n, noise=0.05, random_state=seed)
    return torch.tensor((x - x.mean(0)) / x.std(0), dtype=torch.float32)


def _gan(root: Path, seed: int, *, forget_d_zero_grad: bool) -> tuple[str, str]:
    torch.manual_seed(seed)
    real = _moons(seed)
    net_g = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 2))
    net_d = nn.Sequential(nn.Linear(2, 64), nn.LeakyReLU(0.2), nn.Linear(64, 64),
                          nn.LeakyReLU(0.2), nn.Linear(64, 1))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-3, betas=(0.5, 0.999))
    run = ds.init(name="dcgan-style", dir=root)
    run.watch(net_g, opt_g, name="netG")
    run.watch(net_d, opt_d, name="netD")
    crit = nn.BCEWithLogitsLoss()
    g = torch.Generator().manual_seed(seed)
    start = None
    for step in range(300):
        xb = real[torch.randint(0, len(real), (64,), generator=g)]
        if not forget_d_zero_grad:
            net_d.zero_grad()
        fake = net_g(torch.randn(64, 8))
        err_d = crit(net_d(xb), torch.ones(64, 1)) + crit(net_d(fake.detach()),
                                                           torch.zeros(64, 1))
        err_d.backward()
        opt_d.step()
        net_g.zero_grad()
        err_g = crit(net_d(fake), torch.ones(64, 1))
        err_g.backward()
        opt_g.step()
        run.log({"Loss_D": err_d.item(), "Loss_G": err_g.item()}, step=step)
        if step % 50 == 0 or step == 299:
            with torch.no_grad():
                sample = net_g(torch.randn(500, 8))
                # Distance of the samples' mean and spread from the data's (0 and 1).
                dist = float(sample.mean(0).abs().sum() + (sample.std(0) - 1).abs().sum())
            start = dist if start is None else start
    run.finish()
    return run.path, f"sample distance {start:.2f} -> {dist:.2f}"


def dcgan_style_moons(root: Path, seed: int) -> tuple[str, str]:
    return _gan(root, seed, forget_d_zero_grad=False)


def hf_trainer_bert(root: Path, seed: int) -> tuple[str, str]:
    import transformers

    from deepscope.integrations.hf import DeepscopeCallback

    transformers.utils.logging.set_verbosity_error()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 64, (1800, 16), generator=g)
    ids[:, 0] = 1  # [CLS]
    labels = ((ids[:, 1:] < 34).sum(1) > 7).long()  # are most tokens "low"?

    class Tokens(torch.utils.data.Dataset):
        def __init__(self, sl: slice) -> None:
            self.ids, self.labels = ids[sl], labels[sl]

        def __len__(self) -> int:
            return len(self.labels)

        def __getitem__(self, i: int) -> dict[str, T]:
            return {"input_ids": self.ids[i], "labels": self.labels[i]}

    model = transformers.BertForSequenceClassification(transformers.BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=16, num_labels=2))
    args = transformers.TrainingArguments(
        output_dir=str(root / "out"), max_steps=150, learning_rate=3e-3, warmup_steps=10,
        per_device_train_batch_size=32, per_device_eval_batch_size=128, logging_steps=1,
        eval_strategy="steps", eval_steps=20, save_strategy="no", report_to="none",
        use_cpu=True, disable_tqdm=True, dataloader_num_workers=0, seed=seed)
    accs: list[float] = []

    def accuracy(pred) -> dict[str, float]:  # noqa: ANN001
        accs.append(float((pred.predictions.argmax(-1) == pred.label_ids).mean()))
        return {"accuracy": accs[-1]}

    cb = DeepscopeCallback(dir=str(root))
    transformers.Trainer(model=model, args=args, train_dataset=Tokens(slice(0, 1500)),
                         eval_dataset=Tokens(slice(1500, None)), compute_metrics=accuracy,
                         callbacks=[cb]).train()
    return cb.run.path, f"eval acc {accs[0]:.2f} -> {accs[-1]:.2f}"


def conv_autoencoder(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    x, _, xv, _ = _digit_images(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 16, 2, stride=2), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 2, stride=2), nn.Sigmoid())
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    run = ds.init(name="conv-ae", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    vals = []
    for step in range(150):
        xb = x[torch.randint(0, len(x), (64,), generator=g)]
        opt.zero_grad()
        loss = F.mse_loss(model(xb), xb)
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
        if (step + 1) % 15 == 0:
            with torch.no_grad():
                vals.append(F.mse_loss(model(xv), xv).item())
            run.log({"val/loss": vals[-1]}, step=step)
    run.finish()
    return run.path, f"val mse {vals[0]:.4f} -> {vals[-1]:.4f}"


def _cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(256, 10))


def label_smoothing_step_lr(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    model = _cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, 50, gamma=0.3)
    smooth = nn.CrossEntropyLoss(label_smoothing=0.1)
    return _train_classifier("label-smoothing", root, model, opt, _digit_images(seed), seed,
                             steps=150, sched=sched, loss_fn=smooth)


def distillation_kl(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    x, y, xv, yv = _split(datasets.load_digits().data, datasets.load_digits().target, seed)
    teacher = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    topt = torch.optim.Adam(teacher.parameters(), lr=3e-3)
    for _ in range(150):  # the teacher, trained beforehand (not watched)
        topt.zero_grad()
        F.cross_entropy(teacher(x), y).backward()
        topt.step()
    teacher.eval()
    student = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.Adam(student.parameters(), lr=3e-3)
    run = ds.init(name="distill", dir=root)
    run.watch(student, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    first = _accuracy(student, xv, yv)[1]
    temp = 4.0
    for step in range(150):
        idx = torch.randint(0, len(x), (64,), generator=g)
        with torch.no_grad():
            soft = (teacher(x[idx]) / temp).softmax(-1)
        opt.zero_grad()
        out = student(x[idx])
        kd = F.kl_div((out / temp).log_softmax(-1), soft, reduction="batchmean") * temp**2
        loss = 0.7 * kd + 0.3 * F.cross_entropy(out, y[idx])
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()}, step=step)
        if (step + 1) % 15 == 0:
            vl, acc = _accuracy(student, xv, yv)
            run.log({"val_loss": vl, "val_acc": acc}, step=step)
    run.finish()
    return run.path, f"val acc {first:.2f} -> {acc:.2f}"


def mixup_mlp(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    d = datasets.load_digits()
    x, y, xv, yv = _split(d.data, d.target, seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    run = ds.init(name="mixup", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    first = _accuracy(model, xv, yv)[1]
    for step in range(150):
        idx = torch.randint(0, len(x), (64,), generator=g)
        perm = torch.randperm(64, generator=g)
        lam = float(rng.beta(0.4, 0.4))
        xb = lam * x[idx] + (1 - lam) * x[idx][perm]
        opt.zero_grad()
        out = model(xb)
        loss = lam * F.cross_entropy(out, y[idx]) + (1 - lam) * F.cross_entropy(out, y[idx][perm])
        loss.backward()
        opt.step()
        run.log({"train_loss": loss.item()}, step=step)
        if (step + 1) % 15 == 0:
            vl, acc = _accuracy(model, xv, yv)
            run.log({"val_loss": vl, "val_accuracy": acc}, step=step)
    run.finish()
    return run.path, f"val acc {first:.2f} -> {acc:.2f}"


def llama_bf16_autocast(root: Path, seed: int) -> tuple[str, str]:
    from transformers import LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.manual_seed(seed)
    x, _ = _tokens(seed)
    xv, _ = _tokens(seed + 100, 128)
    model = LlamaForCausalLM(LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, vocab_size=48, max_position_embeddings=12, bos_token_id=0,
        eos_token_id=0, pad_token_id=0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 10))
    run = ds.init(name="llama-bf16", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    vals = []
    for step in range(100):
        idx = torch.randint(0, len(x), (32,), generator=g)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(input_ids=x[idx], labels=x[idx]).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        run.log({"train/loss": loss.item()}, step=step)
        if (step + 1) % 20 == 0:
            model.eval()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                vals.append(model(input_ids=xv, labels=xv).loss.item())
            model.train()
            run.log({"eval/loss": vals[-1]}, step=step)
    run.finish()
    return run.path, f"eval loss {vals[0]:.2f} -> {vals[-1]:.2f}"


def huber_large_targets(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    xs, ys = datasets.make_friedman1(1200, 10, noise=0.5, random_state=seed)
    x, y, xv, yv = _split(xs, ys * 800 + 2e4, seed, y_dtype=torch.float32)
    model = nn.Sequential(nn.Linear(10, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(),
                          nn.Linear(64, 1))
    with torch.no_grad():
        model[-1].bias.fill_(float(y.mean()))  # start at the target mean, as people do
    opt = torch.optim.Adam(model.parameters(), lr=3e-2)
    run = ds.init(name="huber", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    vals = []
    for step in range(200):
        idx = torch.randint(0, len(x), (64,), generator=g)
        opt.zero_grad()
        loss = F.huber_loss(model(x[idx]).squeeze(-1), y[idx], delta=100.0)
        loss.backward()
        opt.step()
        run.log({"loss": loss.item()}, step=step)
        if (step + 1) % 20 == 0:
            with torch.no_grad():
                vals.append(F.l1_loss(model(xv).squeeze(-1), yv).item())
            run.log({"val_loss": vals[-1]}, step=step)
    run.finish()
    return run.path, f"val mae {vals[0]:.0f} -> {vals[-1]:.0f}"


# -- buggy ---------------------------------------------------------------------------------------
def gan_discriminator_never_zeroed(root: Path, seed: int) -> tuple[str, str]:
    return _gan(root, seed, forget_d_zero_grad=True)


def gpt2_eval_left_on_after_generate(root: Path, seed: int) -> tuple[str, str]:
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.manual_seed(seed)
    x, _ = _tokens(seed)
    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=48,
                                       n_positions=12, bos_token_id=0, eos_token_id=0))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    run = ds.init(name="gpt2-generate", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(100):
        idx = torch.randint(0, len(x), (32,), generator=g)
        loss = model(input_ids=x[idx], labels=x[idx]).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        run.log({"train_loss": loss.item()}, step=step)
        if step == 15:  # look at a sample; model.train() is never called again
            model.eval()
            with torch.no_grad():
                model.generate(x[:1, :4], max_new_tokens=4, do_sample=False, pad_token_id=0)
    run.finish()
    return run.path, f"train loss {loss.item():.2f}"


def gru_softmax_output(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    toks = torch.randint(0, 40, (1600, 16), generator=g)
    y = ((toks < 15).sum(1) > 5).long()

    class GRUClassifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(40, 32)
            self.gru = nn.GRU(32, 32, batch_first=True)
            self.fc = nn.Linear(32, 2)

        def forward(self, t: T) -> T:
            _, h = self.gru(self.emb(t))
            return F.softmax(self.fc(h[-1]), dim=-1)

    model = GRUClassifier()
    return _train_classifier("gru-softmax", root, model,
                             torch.optim.Adam(model.parameters(), lr=3e-3),
                             (toks[:1300], y[:1300], toks[1300:], y[1300:]), seed, steps=150,
                             batch=64)


def labels_sorted_separately(root: Path, seed: int) -> tuple[str, str]:
    """The labels were sorted (to balance classes) without reordering the inputs."""
    torch.manual_seed(seed)
    d = datasets.load_digits()
    x, y, xv, yv = _split(d.data, d.target, seed)
    y = torch.sort(y).values
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    return _train_classifier("sorted-labels", root, model,
                             torch.optim.Adam(model.parameters(), lr=3e-3), (x, y, xv, yv),
                             seed, steps=600, tags=("train/loss", "val/loss", "val/accuracy"))


def bf16_conv_autoencoder_small_lr(root: Path, seed: int) -> tuple[str, str]:
    torch.manual_seed(seed)
    x, _, _, _ = _digit_images(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 1, 3, padding=1),
        nn.Sigmoid()).to(torch.bfloat16)
    opt = torch.optim.Adam(model.parameters(), lr=2e-5)
    run = ds.init(name="bf16-ae", dir=root)
    run.watch(model, optimizer=opt)
    g = torch.Generator().manual_seed(seed)
    for step in range(100):
        xb = x[torch.randint(0, len(x), (64,), generator=g)].bfloat16()
        opt.zero_grad()
        loss = F.mse_loss(model(xb).float(), xb.float())
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
    run.finish()
    return run.path, f"train mse {loss.item():.4f}"


HEALTHY = [dcgan_style_moons, hf_trainer_bert, conv_autoencoder, label_smoothing_step_lr,
           distillation_kl, mixup_mlp, llama_bf16_autocast, huber_large_targets]
BUGGY = {
    gan_discriminator_never_zeroed: "gradients_not_zeroed",
    gpt2_eval_left_on_after_generate: "train_in_eval_mode",
    gru_softmax_output: "double_softmax",
    labels_sorted_separately: "no_generalization",
    bf16_conv_autoencoder_small_lr: "update_underflow",
}
