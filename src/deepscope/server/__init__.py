"""The dashboard server: FastAPI JSON API over run readers, live events, the built SPA."""

from __future__ import annotations

from deepscope.server.app import create_app
from deepscope.server.serve import serve

__all__ = ["create_app", "serve"]
