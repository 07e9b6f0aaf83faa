"""The ``deepscope`` command line: one module per command group, registered here in order.

Every user error is one line on stderr and exit code 2; ``--fail-on`` uses exit code 1. Nothing
here imports torch at start-up: each command imports what it needs when it runs.

    deepscope ls deepscope-runs
    deepscope diagnose deepscope-runs/cnn-20261122-101500-ab12cd --fail-on warning
"""

from __future__ import annotations

import sys

import typer

from deepscope.cli import demo, diagnose, explain, report, runs, serve, summary, tensorboard
from deepscope.cli._output import err_console
from deepscope.errors import DeepscopeError

app = typer.Typer(
    name="deepscope",
    help="See inside neural networks while they train, and find out what is wrong.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from deepscope import __version__

        typer.echo(f"deepscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """See inside neural networks while they train, and find out what is wrong."""


# The explicit command registry: (name, function). Groups with sub-commands follow.
COMMANDS = (
    ("demo", demo.demo_command),
    ("ls", runs.ls_command),
    ("diagnose", diagnose.diagnose_command),
    ("ui", serve.ui_command),
    ("report", report.report_command),
    ("summary", summary.summary_command),
    ("import-tensorboard", tensorboard.import_tensorboard_command),
)
for _name, _command in COMMANDS:
    app.command(_name)(_command)
app.add_typer(explain.explain_app, name="explain")


def main() -> None:
    """Entry point of the ``deepscope`` console script."""
    try:
        app()
    except DeepscopeError as err:  # pragma: no cover - commands wrap their own errors
        err_console.print(f"error: {err}")
        sys.exit(2)
