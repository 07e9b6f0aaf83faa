"""``deepscope demo``: train the demo runs, print what the diagnosis found, optionally serve."""

from __future__ import annotations

from pathlib import Path

import typer

from deepscope.cli._output import console, friendly_errors


@friendly_errors
def demo_command(
    root: Path = typer.Option(Path("deepscope-runs"), "--dir", help="Where to write the runs."),
    serve: bool = typer.Option(False, "--serve/--no-serve", help="Serve the dashboard afterwards."),
    port: int = typer.Option(6007, help="Dashboard port with --serve."),
) -> None:
    """Train a healthy and a broken CNN on scikit-learn digits, then show what deepscope found."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from deepscope.demo import BROKEN, HEALTHY, train_demo

    paths = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for cfg in (HEALTHY, BROKEN):
            task = progress.add_task(cfg.name, total=None)
            paths.append(
                train_demo(
                    cfg,
                    root,
                    lambda done, total, t=task: progress.update(t, completed=done, total=total),
                )
            )
    for p in paths:
        console.print(f"run written to [bold]{p}[/]")
    _print_demo_diagnoses(paths)
    if serve:
        from deepscope.server import serve as serve_dashboard

        serve_dashboard(root, host="127.0.0.1", port=port)
    else:
        console.print(f"see them with: deepscope ls {root}  |  deepscope ui {root}")


def _print_demo_diagnoses(paths: list[Path]) -> None:
    from deepscope.diagnose import diagnose

    for p in paths:
        d = diagnose(p)
        console.rule(f"diagnosis of {p.name}")
        console.print(d)
