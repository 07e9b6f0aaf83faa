"""One router per resource; :data:`ALL_ROUTERS` is the explicit, ordered registry."""

from __future__ import annotations

from deepscope.server.api import (
    artifacts,
    events,
    findings,
    graph,
    health,
    histograms,
    layers,
    runs,
    scalars,
    stats,
    transformer,
)

ALL_ROUTERS = (
    health.router,
    runs.router,
    scalars.router,
    layers.router,
    stats.router,
    histograms.router,
    transformer.router,
    graph.router,
    findings.router,
    artifacts.router,
    events.router,
)

__all__ = ["ALL_ROUTERS"]
