"""Helpers shared by the browser tests (kept out of conftest.py so tests can import them)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


#: Chromium logs every HTTP error response as a console error; those are judged by status below.
_HTTP_ERROR_LOG = "Failed to load resource: the server responded with a status of"


class Console:
    """Console errors, uncaught exceptions, failed responses and dialogs of one page.

    A 404 from the JSON API is how the server says "not recorded" (the view shows a placeholder),
    so it is allowed; any other failed response (a missing asset, a 400 or 500 from the API) is an
    error.
    """

    def __init__(self, page: object):
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("response", self._response)

        def on_dialog(d: object) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        page.on("dialog", on_dialog)

    def _console(self, msg: object) -> None:
        if msg.type == "error" and not msg.text.startswith(_HTTP_ERROR_LOG):
            self.errors.append(msg.text)

    def _response(self, resp: object) -> None:
        if resp.status >= 400 and not (resp.status == 404 and "/api/" in resp.url):
            self.errors.append(f"HTTP {resp.status} {resp.url}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """uvicorn serving ``create_app(root)`` on 127.0.0.1 in a daemon thread."""

    def __init__(self, root: Path, static: Path, token: str | None = None):
        import uvicorn

        from deepscope.server.app import create_app

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(root, token, static_dir=static), host="127.0.0.1",
                                port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("dashboard server did not start within 20 s")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
