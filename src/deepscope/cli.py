"""The ``deepscope`` command line. Every user error is one line on stderr and exit code 2."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from deepscope.errors import DeepscopeError

app = typer.Typer(
    name="deepscope",
    help="See inside neural networks while they train, and find out what is wrong.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Turn a DeepscopeError into one red line and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DeepscopeError as err:
            err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


@app.command("ls")
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


@app.command("demo")
@friendly_errors
def demo_command(
    root: Path = typer.Option(Path("deepscope-runs"), "--dir", help="Where to write the runs."),
    serve: bool = typer.Option(False, "--serve/--no-serve", help="Serve the dashboard afterwards."),
    port: int = typer.Option(6007, help="Dashboard port with --serve."),
) -> None:
    """Train a healthy CNN and four broken runs on scikit-learn digits; show what is found."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from deepscope.demo import ALL_RUNS, headline, train_demo

    paths = []
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        for cfg in ALL_RUNS:
            task = progress.add_task(cfg.name, total=cfg.steps)
            paths.append(train_demo(
                cfg, root, lambda done, total, t=task: progress.update(t, completed=done,
                                                                       total=total)))
    table = Table(title=f"deepscope demo: {len(paths)} runs in {time.perf_counter() - t0:.0f} s")
    for col in ("run", "the mistake", "what deepscope finds"):
        table.add_column(col, overflow="fold")
    for cfg, path in zip(ALL_RUNS, paths, strict=True):
        h = headline(cfg, path)
        where = "".join(x for x in (f" in {h.layer}" if h.layer else "",
                                    f" at step {h.step}" if h.step is not None else ""))
        found = f"[bold]{h.severity} {h.code}[/]{where}: {h.message}" if h.code else h.message
        table.add_row(cfg.name, h.mistake, found)
    console.print(table)
    if serve:
        from deepscope.server import serve as serve_dashboard

        serve_dashboard(root, host="127.0.0.1", port=port)
    else:
        console.print(f"see them with: deepscope ls {root}  |  deepscope ui {root}")


@app.command("diagnose")
@friendly_errors
def diagnose_command(
    run_dir: Path = typer.Argument(..., help="The run directory."),
    fmt: str = typer.Option("text", "--format", help="text | json | markdown"),
    fail_on: str = typer.Option(
        None, "--fail-on", help="Exit 1 when a finding at or above this level exists (CI)."
    ),
    settings: list[str] = typer.Option(
        [], "--set", help="Tune a rule: rule.param=value (e.g. dead_units.threshold=0.6)."
    ),
) -> None:
    """Find training problems in RUN_DIR: culprit layer, step, evidence and a suggested fix."""
    from deepscope.diagnose import diagnose
    from deepscope.diagnose.cli import check_options, parse_settings, render

    check_options(fmt, fail_on)
    result = diagnose(run_dir, config=parse_settings(settings))
    if fmt == "text":
        result.print(console)
    else:
        typer.echo(render(result, fmt))
    if fail_on and result.at_least(fail_on):
        raise typer.Exit(1)


@app.command("ui")
@friendly_errors
def ui_command(
    root: Path = typer.Argument(Path("deepscope-runs"), help="Directory holding runs."),
    port: int = typer.Option(6007, help="Port to listen on (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", help="Interface; any non-loopback host needs a token."),
    token: str | None = typer.Option(None, help="Access token (generated off loopback)."),
    open_browser: bool = typer.Option(False, "--open/--no-open", help="Open a browser tab."),
) -> None:
    """Serve the dashboard for every run under ROOT; it updates live while training writes."""
    from deepscope.server import serve as serve_dashboard

    serve_dashboard(root, host=host, port=port, token=token, open_browser=open_browser,
                    echo=lambda line: console.print(line, highlight=False, soft_wrap=True))


@app.command("report")
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


@app.command("summary")
@friendly_errors
def summary_command(
    target: str = typer.Argument(..., help="A model.onnx file or pkg.module:factory."),
    input_size: str = typer.Option(None, "--input-size", help="e.g. 1,3,32,32 (several: 1,8;1,4)."),
    fmt: str = typer.Option("table", "--format", help="table | json | dot | mermaid"),
    depth: int = typer.Option(None, "--depth", help="Collapse modules below this depth."),
) -> None:
    """Architecture of TARGET: hierarchy, output shapes, parameters, FLOPs, as table or graph."""
    from deepscope.errors import InvalidArgumentError
    from deepscope.graph.summary import summary
    from deepscope.graph.target import load_target, parse_input_size

    if fmt not in ("table", "json", "dot", "mermaid"):
        raise InvalidArgumentError(f"--format must be table, json, dot or mermaid, got '{fmt}'")
    sizes = parse_input_size(input_size)
    model, example = load_target(target)
    s = summary(model, None if sizes else example, input_size=sizes, depth=depth)
    text = {"json": lambda: json.dumps(s.to_dict(), indent=1), "dot": s.to_dot,
            "mermaid": s.to_mermaid, "table": lambda: str(s)}[fmt]()
    typer.echo(text.rstrip("\n"))


@app.command("import-tensorboard")
@friendly_errors
def import_tensorboard_command(
    logdir: Path = typer.Argument(..., help="A TensorBoard log directory."),
    root: Path = typer.Option(Path("deepscope-runs"), "--dir", help="Where to write the runs."),
) -> None:
    """Copy the scalars of every TensorBoard run under LOGDIR into deepscope runs."""
    from deepscope.integrations.tensorboard_import import import_tensorboard

    for path in import_tensorboard(logdir, root):
        console.print(f"imported into [bold]{path}[/]", highlight=False)


# Lives outside the explain package so that the CLI (and `deepscope ui`) start without torch.
from deepscope.explain_cli import explain_app  # noqa: E402

app.add_typer(explain_app, name="explain")


def main() -> None:
    """Entry point of the ``deepscope`` console script."""
    try:
        app()
    except DeepscopeError as err:  # pragma: no cover - commands wrap their own errors
        err_console.print(f"error: {err}")
        sys.exit(2)


if __name__ == "__main__":
    main()
