"""Run the dashboard with uvicorn: bind, print the URL, stop cleanly on Ctrl-C."""

from __future__ import annotations

import socket
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path

import uvicorn

from deepscope.errors import InvalidArgumentError
from deepscope.server.app import create_app
from deepscope.server.security import dashboard_url, resolve_token


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks a free one), or a one-line error.

    Example:
        >>> s = bind_socket("127.0.0.1", 0); s.getsockname()[1] > 0
        True
        >>> s.close()

    """
    if not 0 <= port <= 65535:
        raise InvalidArgumentError(f"port {port} is out of range 0..65535")
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise InvalidArgumentError(f"cannot resolve host {host!r}: {err.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    # The protocol number matters: asyncio sets TCP_NODELAY on accepted connections only for
    # sockets whose proto is IPPROTO_TCP; without it every kept-alive answer waited ~40 ms
    # (Nagle + delayed ACK). NODELAY on the listener is inherited by accepted sockets on Linux.
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(addr)
    except OSError as err:
        sock.close()
        raise InvalidArgumentError(
            f"cannot listen on {host}:{port} ({err.strerror}); choose another --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """Ends the open event streams as soon as shutdown starts, so they never block it."""

    def __init__(self, config: uvicorn.Config, stop: threading.Event) -> None:
        super().__init__(config)
        self._stop = stop

    def handle_exit(self, sig: int, frame: object) -> None:  # noqa: D102
        self._stop.set()
        super().handle_exit(sig, frame)  # type: ignore[arg-type]


def serve(
    root: str | Path = "deepscope-runs",
    *,
    host: str = "127.0.0.1",
    port: int = 6007,
    token: str | None = None,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
) -> None:
    """Serve the dashboard for every run under ``root`` until Ctrl-C.

    A host other than loopback requires a token; one is generated and printed when not given.

    Example:
        >>> from deepscope.server import serve
        >>> serve("deepscope-runs", port=6007)  # doctest: +SKIP
        deepscope dashboard: http://127.0.0.1:6007/

    """
    token = resolve_token(host, token)
    sock = bind_socket(host, port)
    port = sock.getsockname()[1]
    app = create_app(root, token=token)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3,
                            lifespan="off", access_log=False)
    server = _Server(config, app.state.stop)
    url = dashboard_url(host, port, token)
    if not Path(root).expanduser().is_dir():
        echo(f"note: {root} does not exist yet; runs appear as soon as training writes there")
    echo(f"deepscope dashboard: {url}  (Ctrl-C to stop)")
    if host in ("0.0.0.0", "", "::"):
        echo("listening on every interface: from another machine use this one's address, "
             "same port and token")
    if open_browser:
        threading.Timer(0.5, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled; the shutdown has already completed
    finally:
        app.state.stop.set()
        sock.close()
    echo("deepscope dashboard stopped")
