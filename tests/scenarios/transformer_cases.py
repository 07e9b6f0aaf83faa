"""Transformer trainings, healthy and unstable, each a function ``(root, seed) -> Outcome``.

Small character-level language models (GPT-2 and BERT from random ``transformers`` configs, a
hand-written GPT with and without qk-layernorm) trained for a few hundred steps on CPU. The
unstable ones follow the recipes of the papers the rules cite: a learning rate 10x above the
stable one without qk-layernorm (Wortsman et al. 2023), bad batches (loss spikes), ...
"""

from __future__ import annotations

from pathlib import Path

import torch

from models import QKNormGPT, tiny_bert, tiny_gpt2
from scenarios import text
from scenarios.transformer_loops import LM, Outcome, train

#: The stable learning rate of these models (AdamW) and the one 10x above it.
STABLE_LR = 1e-3
UNSTABLE_LR = 1e-2


def _seeded(seed: int) -> None:
    torch.manual_seed(seed)


# -- healthy ------------------------------------------------------------------------------------
def gpt2_warmup_cosine(root: Path, seed: int) -> Outcome:
    """GPT-2 (4 layers) at the stable learning rate with warm-up and cosine decay."""
    _seeded(seed)
    m = tiny_gpt2(text.vocab_size())
    return train(LM("gpt2-warmup-cosine", m, STABLE_LR, warmup=30, cosine=True), root, seed)


def qknorm_gpt_high_lr(root: Path, seed: int) -> Outcome:
    """qk-layernorm keeps a hand-written GPT stable at the unstable learning rate."""
    _seeded(seed)
    m = QKNormGPT(text.vocab_size(), qk_norm=True)
    return train(LM("qknorm-gpt-high-lr", m, UNSTABLE_LR, warmup=30, cosine=True), root, seed)


def bert_mlm_warmup(root: Path, seed: int) -> Outcome:
    """BERT masked-language modelling with warm-up, eager attention."""
    _seeded(seed)
    m = tiny_bert(text.vocab_size(), attn="eager")
    return train(LM("bert-mlm", m, STABLE_LR, warmup=30, cosine=True, masked=True), root, seed)


# -- attention instability -------------------------------------------------------------------------
def gpt2_high_lr(root: Path, seed: int) -> Outcome:
    """GPT-2 (4 layers) at 10x the stable learning rate, no warm-up, no qk-layernorm."""
    _seeded(seed)
    m = tiny_gpt2(text.vocab_size())
    return train(LM("gpt2-high-lr", m, UNSTABLE_LR), root, seed)


def gpt_without_qknorm_high_lr(root: Path, seed: int) -> Outcome:
    """The hand-written GPT of ``qknorm_gpt_high_lr`` without its qk-layernorm."""
    _seeded(seed)
    m = QKNormGPT(text.vocab_size(), qk_norm=False)
    return train(LM("gpt-no-qknorm-high-lr", m, UNSTABLE_LR, warmup=30, cosine=True), root,
                 seed)


# -- loss spikes ---------------------------------------------------------------------------------
def _bad_batches(steps: tuple[int, ...]) -> object:
    def corrupt(step: int, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if step in steps:  # a batch of noise: random characters
            return torch.randint(1, text.vocab_size(), x.shape, generator=gen)
        return x

    return corrupt


def gpt2_bad_batches(root: Path, seed: int) -> Outcome:
    """GPT-2 at the stable learning rate; three batches of random characters (150 and 250 fall
    on sampled steps, 205 does not)."""
    _seeded(seed)
    m = tiny_gpt2(text.vocab_size())
    lm = LM("gpt2-bad-batches", m, STABLE_LR, warmup=30, corrupt=_bad_batches((150, 205, 250)))
    return train(lm, root, seed)


def bert_bad_batches(root: Path, seed: int) -> Outcome:
    """BERT masked-language modelling with two batches of random characters."""
    _seeded(seed)
    m = tiny_bert(text.vocab_size(), attn="eager")
    lm = LM("bert-bad-batches", m, STABLE_LR, warmup=30, cosine=True, masked=True,
            corrupt=_bad_batches((160, 240)))
    return train(lm, root, seed)


# -- output logits -------------------------------------------------------------------------------
def gpt_memorises(root: Path, seed: int) -> Outcome:
    """The qk-layernorm GPT trained epoch after epoch on 8 windows of text, no weight decay:
    it memorises them and its logits, and their log-partition, grow without bound."""
    _seeded(seed)
    m = QKNormGPT(text.vocab_size(), qk_norm=True)
    return train(LM("gpt-memorises", m, 1e-2, data=text.memorise(seed, 8)), root, seed)


def gpt_wide_memorises(root: Path, seed: int) -> Outcome:
    """A wider qk-layernorm GPT (d=128) memorising 16 windows of text."""
    _seeded(seed)
    m = QKNormGPT(text.vocab_size(), d=128, qk_norm=True)
    return train(LM("gpt-wide-memorises", m, 1e-2, data=text.memorise(seed, 16)), root, seed)


# -- outlier activations -------------------------------------------------------------------------
def gpt_key_value_pairs(root: Path, seed: int) -> Outcome:
    """The qk-layernorm GPT on key/value records: a few residual channels grow far beyond the
    rest (outlier features)."""
    _seeded(seed)
    m = QKNormGPT(text.vocab_size(), d=128, qk_norm=True)
    return train(LM("gpt-key-value", m, 3e-3, steps=800, batch=4, weight_decay=0.2,
                    data=text.key_value_pairs(seed)), root, seed)


def gpt_deep_key_value_pairs(root: Path, seed: int) -> Outcome:
    """A deeper qk-layernorm GPT (6 layers) on the same key/value records."""
    _seeded(seed)
    m = QKNormGPT(text.vocab_size(), d=128, layers=6, qk_norm=True)
    return train(LM("gpt-deep-key-value", m, 3e-3, steps=800, batch=4, weight_decay=0.2,
                    data=text.key_value_pairs(seed)), root, seed)
