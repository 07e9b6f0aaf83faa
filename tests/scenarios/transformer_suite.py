"""The transformer scenarios: each case, its label, and the label's proof from raw measurements.

``label_problems`` checks a case's label against what a
:class:`~scenarios.transformer_probe.RawProbe` measured with plain torch, never against deepscope:
an unstable case must show its instability in those numbers, a healthy one must learn and show
none. :func:`head_problems` then checks that the heads a finding names are the heads the raw
measurements single out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from scenarios import transformer_cases as T  # noqa: N812
from scenarios.suite import Case, _c
from scenarios.transformer_probe import RawProbe

SEEDS: tuple[int, ...] = (0, 1, 2)
CODES: tuple[str, ...] = ("attention_entropy_collapse", "attention_logit_growth",
                          "output_logit_divergence", "loss_spikes", "outlier_activations")




UNSTABLE: list[Case] = [
    _c(T.gpt2_high_lr, "attention_logit_growth", "attention_entropy_collapse"),
    _c(T.gpt_without_qknorm_high_lr, "attention_logit_growth", "attention_entropy_collapse"),
    _c(T.gpt2_bad_batches, "loss_spikes"),
    _c(T.bert_bad_batches, "loss_spikes"),
    _c(T.gpt_memorises, "output_logit_divergence"),
    _c(T.gpt_wide_memorises, "output_logit_divergence"),
    _c(T.gpt_key_value_pairs, "outlier_activations"),
    _c(T.gpt_deep_key_value_pairs, "outlier_activations"),
]

HEALTHY: list[Case] = [_c(fn) for fn in (
    T.gpt2_warmup_cosine,
    T.qknorm_gpt_high_lr,
    T.bert_mlm_warmup,
)]

CASES: list[Case] = UNSTABLE + HEALTHY

#: What each code looks like in raw measurements: (description, measure, clean at most,
#: buggy at least). Healthy runs stay at or below ``clean``, labelled ones reach ``bug``.
RAW: dict[str, tuple[str, Callable[[dict[str, float]], float], float, float]] = {
    "attention_logit_growth": ("largest final max |q.k|/sqrt(d) of a head",
                               lambda s: s["max_logit"], 20.0, 100.0),
    "attention_entropy_collapse": ("share of heads whose final normalised entropy <= 0.2",
                                   lambda s: s["collapsed_share"], 0.0, 0.25),
    "output_logit_divergence": ("drift of the mean log-partition (nats)",
                                lambda s: s["lse_drift"], 3.5, 5.0),
    "loss_spikes": ("largest robust z-score of a loss point", lambda s: s["max_spike_z"],
                    6.0, 10.0),
    "outlier_activations": ("largest final max / median |activation| of a block",
                            lambda s: s["outlier"], 40.0, 100.0),
}


def label_problems(case: Case, probe: RawProbe) -> list[str]:
    """Where the raw measurements contradict the case's label (empty: the label is proven)."""
    s = probe.summary()
    out = [] if s["finite"] else ["the training loss is not finite"]
    for code, (what, measure, clean, bug) in RAW.items():
        value = measure(s)
        if code in case.expected and value < bug:
            out.append(f"{code}: {what} is {value:.3g} < {bug}")
        if code not in case.expected and value > clean:
            out.append(f"{code}: {what} is {value:.3g} > {clean} in a run not labelled so")
    if s["last_loss"] >= 0.95 * s["first_loss"]:
        out.append(f"did not learn: loss {s['first_loss']:.3f} -> {s['last_loss']:.3f}")
    return out


def in_the_gap(case: Case, probe: RawProbe) -> set[str]:
    """Labelled codes whose raw measure fell between ``clean`` and ``bug`` in this training: the
    run shows some of the problem, not enough to prove the label, so the diagnosis may report it
    or not (the float order of a training differs between CPUs, and an unstable training
    amplifies it: the GPT without qk-layernorm collapsed 3 of its 16 heads on one, more on
    another).
    """
    s = probe.summary()
    return {code for code, (_, measure, clean, bug) in RAW.items()
            if code in case.expected and clean < measure(s) < bug}


def raw_heads(probe: RawProbe, code: str) -> set[tuple[int, int]]:
    """``(layer, head)`` pairs the raw measurements single out for a head code."""
    if code == "attention_logit_growth":
        final = probe.final(probe.max_logit)
        hit = final >= 50.0
    else:
        final = probe.final(probe.entropy)
        hit = final <= 0.3
    heads = len(final) // probe.layers if probe.layers else len(final)
    return {(int(i) // heads, int(i) % heads) for i in np.flatnonzero(hit)}


def head_problems(code: str, evidence: dict, probe: RawProbe, modules: list[str]) -> list[str]:
    """Heads a finding names that the raw measurements do not single out."""
    want = raw_heads(probe, code)
    named = {(modules.index(h["module"]), int(h["head"])) for h in evidence["heads"]}
    wrong = named - want
    return [f"{code} names {sorted(wrong)} which raw measurements do not single out "
            f"({sorted(want)})"] if wrong else []
