"""The dashboard application: JSON API over run readers, live events and the built SPA.

Example:
    >>> from deepscope.server import create_app
    >>> app = create_app("deepscope-runs")  # doctest: +SKIP
    >>> # uvicorn.run(app, host="127.0.0.1", port=6007)

"""

from __future__ import annotations

import inspect
import logging
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deepscope.errors import DeepscopeError
from deepscope.server.api import ALL_ROUTERS
from deepscope.server.deps import Settings
from deepscope.server.events import VersionWatcher
from deepscope.server.security import AccessMiddleware, HeadersMiddleware
from deepscope.server.static import DEFAULT_STATIC, spa_router

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())[:500]}, status_code=status)


def _without_root(message: str, root: Path) -> str:
    """The message with the served directory's location cut out (clients see ids, not paths)."""
    for prefix in {str(root.resolve()), str(root.absolute()), str(root)}:
        if prefix not in (".", ""):
            message = message.replace(prefix + "/", "").replace(prefix, ".")
    return message


class CatchAllMiddleware:
    """Answers an unexpected error with a JSON 500 and keeps the connection usable.

    Starlette's own last-resort handler re-raises after answering, which makes the server
    drop a kept-alive connection; this answers and returns. The error is logged in full.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as err:  # noqa: BLE001 - the last line of defence, logged below
            log.exception("unexpected server error on %s", scope.get("path"))
            if started:
                return  # the answer is under way; nothing better can be sent
            response = _error(500, f"internal error ({type(err).__name__}); see the server log")
            await response(scope, receive, send)


def _validation_message(err: RequestValidationError) -> str:
    """First validation problem as one line: ``invalid query parameter max_points: ...``."""
    first = err.errors()[0] if err.errors() else {}
    loc = [str(p) for p in first.get("loc", ())]
    where = f"{loc[0]} parameter {'.'.join(loc[1:])}" if len(loc) > 1 else "request"
    return f"invalid {where}: {first.get('msg', 'bad value')}"


def add_error_handlers(app: FastAPI) -> None:
    """One place mapping typed errors to status codes and ``{"error": "<one line>"}``."""

    async def deepscope_error(request: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, DeepscopeError)
        return _error(err.http_status, _without_root(str(err), request.app.state.settings.root))

    async def validation_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError)
        return _error(400, _validation_message(err))

    async def http_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, StarletteHTTPException)
        return _error(err.status_code, str(err.detail))

    app.add_exception_handler(DeepscopeError, deepscope_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def _fastapi_options() -> dict[str, Any]:
    # Recent FastAPI versions instrument requests with OpenTelemetry; a local viewer needs none.
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:
        return {"telemetry": {"tracing": False, "metrics": False, "logs": False,
                              "operation_spans": False, "auto_configure": False}}
    return {}


def create_app(
    root: str | Path, token: str | None = None, *, static_dir: str | Path | None = None
) -> FastAPI:
    """Build the dashboard app serving every run under ``root``.

    Args:
        root: directory searched for runs (it may not exist yet: runs appear when written).
        token: when given, every request but ``/api/health`` must carry it.
        static_dir: the built SPA (default: ``deepscope/server/static``).

    Example:
        >>> from fastapi.testclient import TestClient
        >>> client = TestClient(create_app("deepscope-runs"), base_url="http://127.0.0.1")
        >>> client.get("/api/health").json()["status"]
        'ok'

    """
    settings = Settings(
        root=Path(root).expanduser(),
        token=token,
        static_dir=Path(static_dir) if static_dir is not None else DEFAULT_STATIC,
    )
    app = FastAPI(
        title="deepscope",
        summary="See inside neural networks while they train.",
        version="1",
        docs_url=None,  # Swagger UI loads from a CDN; the schema is at /openapi.json
        redoc_url=None,
        **_fastapi_options(),
    )
    app.state.settings = settings
    app.state.watcher = VersionWatcher(settings.root)
    app.state.stop = threading.Event()
    add_error_handlers(app)
    for router in ALL_ROUTERS:
        app.include_router(router)
    app.include_router(spa_router(settings.static_dir))
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(AccessMiddleware, token=token)
    app.add_middleware(HeadersMiddleware)
    return app
