"""``deepscope import-tensorboard``: TensorBoard event files into deepscope runs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from deepscope.cli._output import console, err_console, friendly_errors


@friendly_errors
def import_tensorboard_command(
    logdir: Path = typer.Argument(..., help="A TensorBoard log directory."),
    root: Path = typer.Option(Path("deepscope-runs"), "--dir", help="Where to write the runs."),
) -> None:
    """Copy every TensorBoard run under LOGDIR (scalars, histograms, text, hparams) into runs."""
    from deepscope.integrations.tensorboard_import import import_tensorboard

    def skipped(directory: Path, why: str) -> None:
        err_console.print(f"skipped {escape(str(directory))}: {why}", highlight=False,
                          soft_wrap=True)

    for path in import_tensorboard(logdir, root, on_skip=skipped):
        console.print(f"imported into [bold]{escape(str(path))}[/]", highlight=False)
