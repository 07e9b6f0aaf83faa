"""``deepscope ls``: the runs under a root, one row each (unreadable runs included, with why)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from deepscope.cli._output import console, friendly_errors
from deepscope.errors import DeepscopeError
from deepscope.store.records import RunMeta


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
    """List the runs under ROOT: id, status, last step, duration, start, config."""
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
    if not metas and not broken:
        console.print(f"no runs under {root}")
        return
    console.print(_table(root, metas, broken))
    for run_id, err in broken:
        console.print(f"[red]unreadable[/] {escape(run_id)}: {escape(err)}", highlight=False,
                      soft_wrap=True)


#: Columns after the id, most useful first, with the width each needs; the ones that do not
#: fit the terminal are left out (``--json`` has everything).
_COLUMNS = (("status", 10), ("last step", 9), ("duration", 8), ("started", 11), ("config", 16))
_COLORS = {"finished": "green", "running": "cyan", "crashed": "red", "unreadable": "red"}


def _cells(m: RunMeta) -> dict[str, str]:
    return {
        "status": f"[{_COLORS.get(m.status, 'white')}]{m.status}[/]",
        "last step": "-" if m.last_step is None else str(m.last_step),
        "duration": _fmt_duration(m.duration),
        "started": time.strftime("%m-%d %H:%M", time.localtime(m.started_at)),
        "config": escape(", ".join(f"{k}={v}" for k, v in m.config.items())),
    }


def _table(root: Path, metas: list[RunMeta], broken: list[tuple[str, str]]) -> Table:
    """One row per run. The id never wraps (it is what other commands take); columns that do
    not fit are dropped, the config is cut to the width left, so the table reads at 80
    columns. ``last step`` is the largest step recorded, as in the dashboard.
    """
    ids = [m.id for m in metas] + [i for i, _ in broken]
    id_width = max(len(i) for i in ids)
    used = id_width + 2  # each column: its width, one space each side
    shown = []
    for name, width in _COLUMNS:
        if used + width + 3 <= console.width:
            shown.append((name, width))
            used += width + 3
    table = Table(title=f"runs in {root}", box=box.SIMPLE_HEAD, title_justify="left",
                  pad_edge=False)
    table.add_column("id", no_wrap=True, min_width=id_width)
    for name, width in shown:
        table.add_column(name, no_wrap=True, overflow="ellipsis", min_width=width,
                         justify="right" if name in ("last step", "duration") else "left",
                         ratio=1 if name == "config" else None)
    for m in sorted(metas, key=lambda m: m.started_at):
        cells = _cells(m)
        table.add_row(escape(m.id), *(cells[n] for n, _ in shown))
    for run_id, _ in broken:
        cells = {"status": "[red]unreadable[/]", "config": "see below"}
        table.add_row(escape(run_id), *(cells.get(n, "-") for n, _ in shown))
    return table
