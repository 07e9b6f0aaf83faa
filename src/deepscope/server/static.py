"""Serving the built single-page app from ``server/static`` (``make web`` writes it there).

Files that exist are sent as they are (revalidated: asset names are fixed); any other path
that is not an API path and does not name a file falls back to ``index.html`` so the SPA's
client-side routes work on reload. Without a build, ``/`` says how to make one.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

DEFAULT_STATIC = Path(__file__).resolve().parent / "static"

NOT_BUILT_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>deepscope</title></head>
<body><h1>deepscope</h1>
<p>dashboard assets not built: run `make web`</p>
<p>The JSON API works: <a href="/api/runs">/api/runs</a>,
<a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""


def _inside(base: Path, rel: str) -> Path | None:
    """``base / rel`` if it is a file inside ``base`` (symlinks resolved), else None."""
    try:
        path = (base / rel).resolve()
    except (OSError, ValueError):
        return None
    if base not in path.parents or not path.is_file():
        return None
    return path


def spa_router(static_dir: Path) -> APIRouter:
    """The catch-all route serving the SPA; include it after every API router.

    Example:
        >>> app.include_router(spa_router(DEFAULT_STATIC))  # doctest: +SKIP

    """
    base = static_dir.resolve()
    router = APIRouter(include_in_schema=False)

    @router.get("/{full_path:path}")
    def spa(full_path: str, request: Request) -> Response:
        if full_path == "api" or full_path.startswith("api/"):
            return JSONResponse({"error": f"no API route /{full_path[:200]}"}, status_code=404)
        index = base / "index.html"
        if not index.is_file():
            if full_path in ("", "index.html"):
                return HTMLResponse(NOT_BUILT_HTML)
            return JSONResponse({"error": "dashboard assets not built: run `make web`"},
                                status_code=404)
        path = _inside(base, full_path) if full_path else None
        if path is None and "assets/" in full_path:
            # Relative asset URLs requested from a client-side route ("/runs/x/assets/app.js").
            path = _inside(base, "assets/" + full_path.rsplit("assets/", 1)[1])
        if path is not None:
            # Asset names are fixed (not content-hashed): revalidate every time.
            return FileResponse(path, headers={"Cache-Control": "no-cache"})
        if "." in full_path.rsplit("/", 1)[-1]:
            return JSONResponse({"error": f"no file /{full_path[:200]}"}, status_code=404)
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    return router
