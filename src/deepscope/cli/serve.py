"""``deepscope ui``: serve the dashboard for the runs under a root (live while training writes)."""

from __future__ import annotations

from pathlib import Path

import typer

from deepscope.cli._output import console, friendly_errors


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
