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

from deepscope.errors import DeepscopeError
from deepscope.server.api import ALL_ROUTERS
from deepscope.server.deps import Settings
from deepscope.server.events import VersionWatcher
from deepscope.server.security import AccessMiddleware, HeadersMiddleware
from deepscope.server.static import DEFAULT_STATIC, spa_router

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())[:500]}, status_code=status)


def _validation_message(err: RequestValidationError) -> str:
    """First validation problem as one line: ``invalid query parameter max_points: ...``."""
    first = err.errors()[0] if err.errors() else {}
    loc = [str(p) for p in first.get("loc", ())]
    where = f"{loc[0]} parameter {'.'.join(loc[1:])}" if len(loc) > 1 else "request"
    return f"invalid {where}: {first.get('msg', 'bad value')}"


def add_error_handlers(app: FastAPI) -> None:
    """One place mapping typed errors to status codes and ``{"error": "<one line>"}``."""

    async def deepscope_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, DeepscopeError)
        return _error(err.http_status, str(err))

    async def validation_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, RequestValidationError)
        return _error(400, _validation_message(err))

    async def http_error(_: Request, err: Exception) -> JSONResponse:
        assert isinstance(err, StarletteHTTPException)
        return _error(err.status_code, str(err.detail))

    async def unexpected(_: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected server error")
        return _error(500, f"internal error: {type(err).__name__}: {err}")

    app.add_exception_handler(DeepscopeError, deepscope_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


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
    app.add_middleware(AccessMiddleware, token=token)
    app.add_middleware(HeadersMiddleware)
    return app
