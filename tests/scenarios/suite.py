"""The suite of trainings that look like real code: each case, its label, and the label's proof.

A case trains a real model (transformers models from small random configs, a GAN, an
autoencoder, AMP, accumulation, checkpointing, schedules, fine-tuning, big regression targets,
30-step runs) for a seed and returns its run plus the raw measurements of a
:class:`~scenarios.probe.Probe`. ``label_problems`` checks the label against those measurements,
never against deepscope: a case labelled buggy must show the bug in plain torch numbers, a
healthy one must learn and show none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scenarios import wild_buggy_data as B  # noqa: N812
from scenarios import wild_buggy_loop as P  # noqa: N812
from scenarios import wild_healthy as H  # noqa: N812
from scenarios import wild_unusual as U  # noqa: N812
from scenarios.probe import Probe

SEEDS: tuple[int, ...] = (0, 1, 2)
NEW_CODES: tuple[str, ...] = ("gradients_not_zeroed", "train_in_eval_mode", "double_softmax",
                              "no_generalization", "update_underflow")


@dataclass(frozen=True)
class Case:
    """A scenario (trains into a directory with a seed, returns its outcome: an ``Outcome``
    of ``loops`` or of ``transformer_loops``) and the finding codes it must get."""

    fn: Callable[[Path, int], Any]
    expected: frozenset[str]

    @property
    def name(self) -> str:
        return self.fn.__name__


def _c(fn: Callable[[Path, int], Any], *codes: str) -> Case:
    return Case(fn, frozenset(codes))


BUGGY: list[Case] = [
    _c(P.gpt2_no_zero_grad, "gradients_not_zeroed"),
    _c(P.zero_grad_before_the_loop, "gradients_not_zeroed"),
    _c(P.accumulation_zeroes_too_rarely, "gradients_not_zeroed"),
    _c(P.bert_eval_never_restored, "train_in_eval_mode"),
    _c(P.cnn_eval_before_training, "train_in_eval_mode"),
    _c(P.llama_eval_after_sampling, "train_in_eval_mode"),
    _c(B.softmax_head_mlp, "double_softmax"),
    _c(B.softmax_in_forward_cnn, "double_softmax"),
    _c(B.softmax_head_transformer, "double_softmax"),
    _c(B.shuffled_labels_mlp, "no_generalization"),
    _c(B.random_labels_transformer, "no_generalization"),
    _c(B.labels_off_by_one, "no_generalization"),
    _c(B.gpt2_bf16_weights, "update_underflow"),
    _c(B.bf16_mlp_sgd, "update_underflow"),
    _c(B.llama_bf16_cosine, "update_underflow"),
]

HEALTHY: list[Case] = [_c(fn) for fn in (
    H.bert_tiny_classifier,
    H.regression_large_targets,
    H.finetune_converged,
    H.gan_moons,
    H.gpt2_warmup_cosine_hf_logging,
    H.llama_gradient_accumulation,
    H.gpt2_gradient_checkpointing,
    H.cnn_bf16_autocast_gradscaler,
    H.autoencoder_digits,
    H.thirty_step_cnn,
    U.frozen_batchnorm_finetune,
    U.validation_without_no_grad,
    U.log_softmax_nll,
    U.distillation_soft_targets,
    U.llama_bf16_autocast_small_lr,
    U.bf16_weights_large_lr,
    U.sgd_step_lr_cnn,
    U.resnet_one_cycle,
)]

CASES: list[Case] = BUGGY + HEALTHY

#: What each new code looks like in raw measurements: (description, measure, bug threshold).
#: Healthy runs must stay at or below ``clean``, buggy ones at or above ``bug``.
_RAW: dict[str, tuple[str, Callable[[Probe], float], float, float]] = {
    "gradients_not_zeroed": ("share of steps whose first backward found .grad non-zero",
                             lambda p: p.share("carried"), 0.0, 0.5),
    "train_in_eval_mode": ("share of training forwards with the model in eval mode",
                           lambda p: p.share("root_eval"), 0.0, 0.5),
    "double_softmax": ("share of training outputs that are probability rows",
                       lambda p: p.share("prob_rows"), 0.0, 0.9),
    "update_underflow": ("median share of elements with a gradient left unchanged",
                         Probe.unchanged_share, 0.4, 0.5),
}


def _no_generalization(p: Probe) -> bool:
    accs = [a for _, a in p.val_acc]
    return bool(accs) and p.chance is not None and max(accs) <= p.chance + 0.1 \
        and p.train_drop() >= 0.3


def label_problems(case: Case, probe: Probe) -> list[str]:
    """Where the raw measurements contradict the case's label (empty: the label is proven)."""
    s = probe.summary()
    out = [] if s["finite"] else ["the training loss is not finite"]
    for code, (what, measure, clean, bug) in _RAW.items():
        value = measure(probe)
        if code in case.expected and value < bug:
            out.append(f"{code}: {what} is {value:.2f} < {bug}")
        if code not in case.expected and value > clean:
            out.append(f"{code}: {what} is {value:.2f} > {clean} in a run not labelled so")
    memorises = _no_generalization(probe)
    if ("no_generalization" in case.expected) != memorises:
        out.append(f"no_generalization: best val acc {s['best_val_acc']:.2f} (chance "
                   f"{s['chance']:.2f}), train loss down {s['train_drop']:.0%}")
    if not case.expected and s["quality_gain"] <= 0:
        out.append(f"healthy but did not learn: quality gain {s['quality_gain']:.3f}")
    if not case.expected and probe.chance is not None and s["best_val_acc"] < probe.chance + 0.2:
        out.append(f"healthy but at chance: best val acc {s['best_val_acc']:.2f}")
    return out
