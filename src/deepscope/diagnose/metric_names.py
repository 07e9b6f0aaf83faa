"""Scalar tags that diagnosis recognises as the training and validation loss / accuracy.

The lists are part of the public contract (DESIGN.md): a user who logs ``train/loss`` or
``val_loss`` gets the loss-based rules without configuration. When several recognised tags are
logged, the one with the most points is read (a once-logged ``train_loss`` summary at the end of
a run must not shadow the per-step ``loss``); ties go to the earlier tag of the list. Every loss
rule says in its finding which tag it read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TRAIN_LOSS_TAGS: tuple[str, ...] = ("train/loss", "train_loss", "loss")
VAL_LOSS_TAGS: tuple[str, ...] = (
    "val/loss",
    "val_loss",
    "valid/loss",
    "valid_loss",
    "validation/loss",
    "validation_loss",
    "eval/loss",
    "eval_loss",
    "test/loss",
    "test_loss",
)


def _with_metric(tags: tuple[str, ...], metric: str) -> tuple[str, ...]:
    return tuple(t[: -len("loss")] + metric for t in tags)


TRAIN_ACC_TAGS: tuple[str, ...] = _with_metric(TRAIN_LOSS_TAGS, "acc") + _with_metric(
    TRAIN_LOSS_TAGS, "accuracy"
)
VAL_ACC_TAGS: tuple[str, ...] = _with_metric(VAL_LOSS_TAGS, "acc") + _with_metric(
    VAL_LOSS_TAGS, "accuracy"
)


def first_present(tags: tuple[str, ...], present: list[str] | set[str]) -> str | None:
    """The first of ``tags`` that was logged, or None.

    Example:
        >>> first_present(TRAIN_LOSS_TAGS, ["val_loss", "loss"])
        'loss'

    """
    have = set(present)
    return next((t for t in tags if t in have), None)


def most_points(tags: tuple[str, ...], points: dict[str, int]) -> str | None:
    """The recognised tag with the most logged points (ties: the earlier of ``tags``), or None.

    Example:
        >>> most_points(TRAIN_LOSS_TAGS, {"train_loss": 1, "loss": 300})
        'loss'

    """
    best: str | None = None
    for tag in tags:
        if tag in points and (best is None or points[tag] > points[best]):
            best = tag
    return best


#: Generator / discriminator names in scalar tags (``g_loss``, ``loss_D``, ``errG``,
#: ``train/disc_loss``...) and in watched model prefixes (``G.``, ``netD.``, ``critic.``).
_ROLE = r"(g|d|gen|disc|generator|discriminator|critic|netg|netd)"
_ADVERSARIAL_TAG = re.compile(
    rf"(^|[/_.\-]){_ROLE}[/_\-]?loss($|[/_.\-])|(^|[/_.\-])loss[/_\-]?{_ROLE}($|[/_.\-])"
    r"|(^|[/_.\-])err[_\-]?(g|d)($|[/_.\-])",
    re.IGNORECASE,
)
_GENERATOR = re.compile(r"^(g|gen|generator|netg)$", re.IGNORECASE)
_DISCRIMINATOR = re.compile(r"^(d|disc|discriminator|critic|netd)$", re.IGNORECASE)


def adversarial_evidence(tags: Iterable[str], layer_names: Iterable[str]) -> str | None:
    """Why a run looks like adversarial training (a GAN), or None.

    A GAN's losses do not descend: each model's loss rises whenever the other one improves, so
    the loss-curve rules do not apply. Seen from a generator / discriminator loss tag, or from a
    generator and a discriminator watched in the same run.

    Example:
        >>> adversarial_evidence(["loss", "g_loss"], [])
        "scalar tag 'g_loss'"
        >>> adversarial_evidence(["D/loss", "G/loss"], [])
        "scalar tag 'D/loss'"
        >>> adversarial_evidence(["loss"], ["G.net.0", "D.net.0"])
        "watched models 'G' and 'D'"
        >>> adversarial_evidence(["train/loss", "val/loss"], ["fc1"]) is None
        True

    """
    for tag in tags:
        if _ADVERSARIAL_TAG.search(tag):
            return f"scalar tag {tag!r}"
    prefixes = {name.split(".", 1)[0] for name in layer_names if "." in name}
    gen = sorted(p for p in prefixes if _GENERATOR.match(p))
    disc = sorted(p for p in prefixes if _DISCRIMINATOR.match(p))
    if gen and disc:
        return f"watched models {gen[0]!r} and {disc[0]!r}"
    return None
