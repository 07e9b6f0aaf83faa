"""``deepscope ls``: the runs under a root, one row each (unreadable runs included, with why)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.table import Table

from deepscope.cli._output import console, friendly_errors
from deepscope.errors import DeepscopeError


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


@friendly_errors
def ls_command(
    root: Path = typer.Argument(Path("deepscope-runs"), help="Directory holding runs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the runs under ROOT: name, status, steps, duration, config."""
    from deepscope.store import open_reader
    from deepscope.store.catalog import find_runs

    metas, broken = [], []
    for run_id, path in find_runs(root):
        try:
            with open_reader(path, run_id) as r:
                metas.append(r.meta())
        except DeepscopeError as err:
            broken.append((run_id, str(err)))
    if as_json:
        print(json.dumps([m.to_dict() for m in metas] + [{"id": i, "error": e} for i, e in broken]))
        return
    table = Table(title=f"runs in {root}", show_lines=False)
    for col in ("id", "name", "status", "started", "steps", "duration", "config"):
        table.add_column(col, overflow="fold")
    colors = {"finished": "green", "running": "cyan", "crashed": "red"}
    for m in sorted(metas, key=lambda m: m.started_at):
        cfg = ", ".join(f"{k}={v}" for k, v in m.config.items())
        steps = "-" if m.last_step is None else str(m.last_step + 1)
        table.add_row(
            m.id,
            m.name,
            f"[{colors.get(m.status, 'white')}]{m.status}[/]",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(m.started_at)),
            steps,
            _fmt_duration(m.duration),
            cfg,
        )
    for run_id, err in broken:
        table.add_row(run_id, "-", "[red]unreadable[/]", "-", "-", "-", err)
    console.print(table)
    if not metas and not broken:
        console.print(f"no runs under {root}")
