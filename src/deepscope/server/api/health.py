"""``GET /api/health``: liveness, open without a token."""

from __future__ import annotations

from fastapi import APIRouter

from deepscope.server.schemas import Health

router = APIRouter(prefix="/api", tags=["health"])


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("deepscope")
    except Exception:  # noqa: BLE001 - not installed as a distribution (source checkout)
        return "0+unknown"


@router.get("/health", response_model=Health)
def health() -> dict[str, str]:
    """Answer ``{"status": "ok"}`` while the server runs."""
    return {"status": "ok", "version": _version()}
