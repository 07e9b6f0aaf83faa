"""Helpers of the ``deepscope diagnose`` command: option checks, ``--set`` parsing, rendering."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deepscope.diagnose.diagnosis import Diagnosis
from deepscope.errors import InvalidArgumentError

FORMATS = ("text", "json", "markdown")
LEVELS = ("warning", "error")


def check_options(fmt: str, fail_on: str | None) -> None:
    """Reject an unknown ``--format`` or ``--fail-on`` with one line.

    Example:
        >>> check_options("json", "warning")

    """
    if fmt not in FORMATS:
        raise InvalidArgumentError(f"--format must be text, json or markdown, got {fmt!r}")
    if fail_on is not None and fail_on not in LEVELS:
        raise InvalidArgumentError(f"--fail-on must be warning or error, got {fail_on!r}")


def parse_settings(settings: Iterable[str]) -> dict[str, Any]:
    """``["dead_units.threshold=0.6"]`` -> ``{"dead_units.threshold": "0.6"}`` (typed later).

    Example:
        >>> parse_settings(["dead_units.threshold=0.6"])
        {'dead_units.threshold': '0.6'}

    """
    out: dict[str, Any] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or "." not in key or not value.strip():
            raise InvalidArgumentError(
                f"--set expects rule.param=value (e.g. dead_units.threshold=0.6), got {item!r}"
            )
        out[key.strip()] = value.strip()
    return out


def render(result: Diagnosis, fmt: str) -> str:
    """The ``json`` or ``markdown`` rendering of a diagnosis."""
    return result.to_json(indent=2) if fmt == "json" else result.to_markdown()
