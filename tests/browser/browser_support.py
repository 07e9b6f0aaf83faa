"""Helpers shared by the browser tests (kept out of conftest.py so tests can import them)."""

from __future__ import annotations

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
