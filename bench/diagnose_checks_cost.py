"""Cost of the capture checks behind the live diagnosis codes, per sampled step.

``gradients_not_zeroed`` (tensor hooks that look at ``.grad`` at each backward),
``train_in_eval_mode`` (the ``.training`` flags of mode-sensitive modules) and ``double_softmax``
(min and row-sum deviation of the output) run only on sampled steps and add no host sync: their
results are device tensors that travel with the step's one transfer (``.training`` is a host
flag). This times each check's own work (its hooks included) on real models, against the plain
training step (no deepscope) in the same process, interleaved over repetitions:

    .venv/bin/python bench/diagnose_checks_cost.py [--steps 30] [--reps 5]

``zero_grad(set_to_none=False)`` is timed too: there ``.grad`` is a zero tensor, so the hook
takes one norm per parameter on the device instead of seeing ``None`` on the host.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from deepscope.capture.gradients import CarriedGradCheck
from deepscope.capture.window import eval_modules

warnings.filterwarnings("ignore")


Loss = Callable[[nn.Module], tuple[torch.Tensor, torch.Tensor]]


def _mlp() -> tuple[nn.Module, Loss]:
    model = nn.Sequential(*[m for _ in range(6) for m in (nn.Linear(1024, 1024), nn.ReLU())],
                          nn.Linear(1024, 10))
    x, y = torch.randn(256, 1024), torch.randint(0, 10, (256,))

    def loss_of(m: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        logits = m(x)
        return F.cross_entropy(logits, y), logits

    return model, loss_of


def _gpt2() -> tuple[nn.Module, Loss]:
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.set_verbosity_error()
    model = GPT2LMHeadModel(GPT2Config(n_embd=256, n_layer=4, n_head=4, vocab_size=2048,
                                       n_positions=64))
    x = torch.randint(0, 2048, (4, 64))

    def loss_of(m: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        out = m(input_ids=x, labels=x)
        return out.loss, out.logits

    return model, loss_of


class _TimedCheck(CarriedGradCheck):
    """The real check, with the time spent inside its hooks added up."""

    hook_time = 0.0

    def _make_hook(self, param: nn.Parameter):  # noqa: ANN202
        inner = super()._make_hook(param)

        def hook(grad: torch.Tensor) -> None:
            t = time.perf_counter()
            inner(grad)
            _TimedCheck.hook_time += time.perf_counter() - t

        return hook


def _step(model: nn.Module, opt: torch.optim.Optimizer, loss_of: Loss, set_to_none: bool,
          checks: bool) -> tuple[float, float]:
    """One training step; returns its time and the time spent in the checks' own work."""
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=set_to_none)
    own, check = 0.0, None
    _TimedCheck.hook_time = 0.0
    if checks:
        t = time.perf_counter()
        check = _TimedCheck([(n, list(m.parameters(recurse=False)))
                             for n, m in model.named_modules()
                             if any(True for _ in m.parameters(recurse=False))])
        eval_modules([], model)
        own += time.perf_counter() - t
    out = loss_of(model)
    if checks:
        t = time.perf_counter()
        y = out[1].detach()  # the output rows: min and the largest row-sum deviation
        torch.stack([y.min().float(), (y.float().sum(-1) - 1).abs().max(),
                     y.new_tensor(float(y.shape[-1]), dtype=torch.float32)])
        own += time.perf_counter() - t
    out[0].backward()
    if check is not None:
        t = time.perf_counter()
        check.remove()
        check.stacked()
        own += time.perf_counter() - t + _TimedCheck.hook_time
    opt.step()
    return time.perf_counter() - t0, own


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    for name, build in (("6x1024 MLP, batch 256", _mlp), ("GPT-2 4x256, 4x64 tokens", _gpt2)):
        torch.manual_seed(0)
        model, loss_of = build()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        n_params = sum(1 for _ in model.parameters())
        for set_to_none in (True, False):
            times: dict[bool, list[float]] = {False: [], True: []}
            own: list[float] = []
            _step(model, opt, loss_of, set_to_none, True)  # warm-up
            for _ in range(args.reps):
                for checks in (False, True):
                    for _ in range(args.steps):
                        took, spent = _step(model, opt, loss_of, set_to_none, checks)
                        times[checks].append(took)
                        if checks:
                            own.append(spent)
            plain, checked, spent = np.mean(times[False]), np.mean(times[True]), np.mean(own)
            print(f"{name} ({n_params} parameters), zero_grad(set_to_none={set_to_none}): "
                  f"step {plain * 1e3:.1f} ms; the checks' own work {spent * 1e3:.2f} ms "
                  f"({spent / plain:.2%} of a sampled step); whole step with them "
                  f"{checked * 1e3:.1f} ms ({checked / plain - 1:+.1%}, machine noise "
                  "included)", flush=True)

if __name__ == "__main__":
    main()
