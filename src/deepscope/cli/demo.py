"""``deepscope demo``: train the demo runs, print what each diagnosis finds, optionally serve."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.table import Table

from deepscope.cli._output import console, friendly_errors


@friendly_errors
def demo_command(
    root: Path = typer.Option(Path("deepscope-runs"), "--dir", help="Where to write the runs."),
    serve: bool = typer.Option(False, "--serve/--no-serve", help="Serve the dashboard afterwards."),
    port: int = typer.Option(6007, help="Dashboard port with --serve."),
) -> None:
    """Train a healthy CNN and four broken runs on scikit-learn digits; show what is found."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from deepscope.demo import ALL_RUNS, train_demo

    paths = []
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        for cfg in ALL_RUNS:
            task = progress.add_task(cfg.name, total=cfg.steps)
            paths.append(train_demo(
                cfg, root, lambda done, total, t=task: progress.update(t, completed=done,
                                                                       total=total)))
    console.print(_headlines(paths, time.perf_counter() - t0))
    if serve:
        from deepscope.server import serve as serve_dashboard

        serve_dashboard(root, host="127.0.0.1", port=port)
    else:
        console.print(f"see them with: deepscope ls {root}  |  deepscope ui {root}")


def _headlines(paths: list[Path], seconds: float) -> Table:
    """One row per run: its mistake and the finding its diagnosis leads with."""
    from deepscope.demo import ALL_RUNS, headline

    table = Table(title=f"deepscope demo: {len(paths)} runs in {seconds:.0f} s")
    for col in ("run", "the mistake", "what deepscope finds"):
        table.add_column(col, overflow="fold")
    for cfg, path in zip(ALL_RUNS, paths, strict=True):
        h = headline(cfg, path)
        where = "".join(x for x in (f" in {h.layer}" if h.layer else "",
                                    f" at step {h.step}" if h.step is not None else ""))
        found = f"[bold]{h.severity} {h.code}[/]{where}: {h.message}" if h.code else h.message
        table.add_row(cfg.name, h.mistake, found)
    return table
