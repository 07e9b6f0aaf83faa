"""Scalar tags that diagnosis recognises as the training and validation loss / accuracy.

The lists are part of the public contract (DESIGN.md): a user who logs ``train/loss`` or
``val_loss`` gets the loss-based rules without configuration. The first present tag wins.
"""

from __future__ import annotations

TRAIN_LOSS_TAGS: tuple[str, ...] = ("train/loss", "train_loss", "loss")
VAL_LOSS_TAGS: tuple[str, ...] = (
    "val/loss",
    "val_loss",
    "valid/loss",
    "validation/loss",
    "eval/loss",
    "test/loss",
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
