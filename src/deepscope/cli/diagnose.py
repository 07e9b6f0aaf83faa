"""``deepscope diagnose``: find training problems in a run, or ``--explain CODE``; option checks,
``--set``, rendering.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from deepscope.cli._output import console, friendly_errors
from deepscope.errors import InvalidArgumentError

if TYPE_CHECKING:
    from deepscope.diagnose.diagnosis import Diagnosis

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


@friendly_errors
def diagnose_command(
    run_dir: Path = typer.Argument(None, help="The run directory."),
    fmt: str = typer.Option("text", "--format", help="text | json | markdown"),
    fail_on: str = typer.Option(
        None, "--fail-on", help="Exit 1 when a finding at or above this level exists (CI)."
    ),
    settings: list[str] = typer.Option(
        [], "--set", help="Tune a rule: rule.param=value (e.g. dead_units.threshold=0.6)."
    ),
    explain: str = typer.Option(
        None, "--explain", metavar="CODE",
        help="Say what the rule of a finding code checks, its thresholds and the fix.",
    ),
) -> None:
    """Find training problems in RUN_DIR: culprit layer, step, evidence and a suggested fix."""
    if explain is not None:
        from deepscope.diagnose.describe import describe_rule

        typer.echo(describe_rule(explain).to_text())
        return
    if run_dir is None:
        raise InvalidArgumentError("diagnose needs a RUN_DIR (or --explain CODE)")
    from deepscope.diagnose import diagnose

    check_options(fmt, fail_on)
    result = diagnose(run_dir, config=parse_settings(settings))
    if fmt == "text":
        result.print(console)
    else:
        typer.echo(render(result, fmt))
    if fail_on and result.at_least(fail_on):
        raise typer.Exit(1)
