"""Access control and response hardening for the dashboard server.

* Bound to loopback without a token: only ``Host`` headers naming this machine are answered
  (a web page cannot reach the API through DNS rebinding).
* With a token (required for any other host): every request except ``GET /api/health`` carries
  ``Authorization: Bearer <token>``, ``?token=<token>`` or the cookie set after a valid
  ``?token=`` (so the page's own scripts and styles load); compared in constant time.
* Every answer gets ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer``;
  HTML gets a Content-Security-Policy allowing nothing outside this origin.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepscope.errors import InvalidArgumentError

COOKIE = "deepscope_token"
PUBLIC_PATHS = frozenset({"/api/health"})

#: The SPA loads only its own files; inline styles are allowed for chart elements, workers may
#: come from blob: URLs (the graph-layout worker is bundled inline), images from data: URLs.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    """True for hosts that only this machine can reach (``localhost``, 127.0.0.0/8, ``::1``).

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
        (True, False)

    """
    name = host.strip().lower().strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


#: Shortest token accepted for a server other machines can reach (a guessable token is none).
MIN_TOKEN_LENGTH = 16


def resolve_token(host: str, token: str | None) -> str | None:
    """The token a server on ``host`` must require: the given one, or a new one off loopback.

    Off loopback a given token must have at least :data:`MIN_TOKEN_LENGTH` characters.

    Example:
        >>> resolve_token("127.0.0.1", None) is None
        True
        >>> len(resolve_token("0.0.0.0", None)) >= 32
        True

    """
    if token is not None and not token.strip():
        token = None
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(32)
    elif token is not None and not is_loopback(host) and len(token) < MIN_TOKEN_LENGTH:
        raise InvalidArgumentError(
            f"--token must have at least {MIN_TOKEN_LENGTH} characters when serving on {host} "
            "(other machines can try to guess it); leave it out to get a random one"
        )
    return token


def dashboard_url(host: str, port: int, token: str | None) -> str:
    """The URL to open, with ``?token=`` when one is required.

    Example:
        >>> dashboard_url("127.0.0.1", 6007, None)
        'http://127.0.0.1:6007/'

    """
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    suffix = f"?token={quote(token)}" if token else ""
    return f"http://{shown}:{port}/{suffix}"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


async def _reject(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-content-type-options", b"nosniff"),
        ],
    })
    await send({"type": "http.response.body", "body": body})


class AccessMiddleware:
    """Pure ASGI middleware (so it also guards static files and event streams).

    Example:
        >>> app.add_middleware(AccessMiddleware, token="s3cret")  # doctest: +SKIP

    """

    def __init__(self, app: ASGIApp, token: str | None = None) -> None:
        self.app = app
        self.token = token

    def _token_source(self, scope: Scope, headers: dict[str, str]) -> str | None:
        """Where a valid token came from (``header``, ``query``, ``cookie``) or None."""
        assert self.token is not None
        expected = self.token.encode()
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer " and secrets.compare_digest(auth[7:].encode(), expected):
            return "header"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        for given in query.get("token", []):
            if secrets.compare_digest(given.encode("utf-8", "replace"), expected):
                return "query"
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie is simply no token
            return None
        if COOKIE in cookie and secrets.compare_digest(cookie[COOKIE].value.encode(), expected):
            return "cookie"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if self.token is None:
            host = _host_name(headers.get("host", ""))
            if host and not is_loopback(host):
                await _reject(send, 403, f"host {host[:60]!r} not allowed: open the dashboard "
                              "at 127.0.0.1 (or serve with a token)")
                return
            await self.app(scope, receive, send)
            return
        if scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        source = self._token_source(scope, headers)
        if source is None:
            await _reject(send, 401, "missing or wrong access token: add ?token=... from the URL "
                          "printed by `deepscope ui`, or an Authorization: Bearer header")
            return
        if source != "query":
            await self.app(scope, receive, send)
            return
        cookie = f"{COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class HeadersMiddleware:
    """Adds ``nosniff``, ``no-referrer`` and, on HTML, the Content-Security-Policy."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff"),
                         (b"referrer-policy", b"no-referrer")]
                ctype = dict(headers).get(b"content-type", b"")
                if ctype.startswith(b"text/html"):
                    extra += [(b"content-security-policy", CSP.encode()),
                              (b"x-frame-options", b"DENY")]
                headers += [(k, v) for k, v in extra if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_hardened)
