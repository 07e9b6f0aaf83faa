"""``deepscope report``: one self-contained HTML file of one run, or of several compared."""

from __future__ import annotations

from pathlib import Path

import typer

from deepscope.cli._output import console, friendly_errors


@friendly_errors
def report_command(
    run_dirs: list[Path] = typer.Argument(..., help="One or more run directories."),
    out: Path = typer.Option(Path("report.html"), "-o", "--out", help="HTML file to write."),
) -> None:
    """Write one self-contained HTML report of the run(s) (opens offline, can be mailed)."""
    from deepscope.report.build import build_report

    path = build_report(list(run_dirs), out)
    size = path.stat().st_size / 1e6
    what = f"{len(run_dirs)} runs" if len(run_dirs) > 1 else "1 run"
    console.print(f"report written to [bold]{path}[/] ({what}, {size:.1f} MB)", highlight=False)
