"""``deepscope report``: one self-contained HTML file of a run."""

from __future__ import annotations

from pathlib import Path

import typer

from deepscope.cli._output import console, friendly_errors


@friendly_errors
def report_command(
    run_dir: Path = typer.Argument(..., help="The run directory."),
    out: Path = typer.Option(Path("report.html"), "-o", "--out", help="HTML file to write."),
) -> None:
    """Write one self-contained HTML report of RUN_DIR (opens offline, can be mailed)."""
    from deepscope.report.build import build_report

    path = build_report(run_dir, out)
    size = path.stat().st_size / 1e6
    console.print(f"report written to [bold]{path}[/] ({size:.1f} MB)", highlight=False)
