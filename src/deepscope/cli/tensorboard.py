"""``deepscope import-tensorboard``: TensorBoard event files into deepscope runs."""

from __future__ import annotations

from pathlib import Path

import typer

from deepscope.cli._output import console, friendly_errors


@friendly_errors
def import_tensorboard_command(
    logdir: Path = typer.Argument(..., help="A TensorBoard log directory."),
    root: Path = typer.Option(Path("deepscope-runs"), "--dir", help="Where to write the runs."),
) -> None:
    """Copy the scalars of every TensorBoard run under LOGDIR into deepscope runs."""
    from deepscope.integrations.tensorboard_import import import_tensorboard

    for path in import_tensorboard(logdir, root):
        console.print(f"imported into [bold]{path}[/]", highlight=False)
