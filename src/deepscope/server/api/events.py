"""``GET /api/events``: Server-Sent Events with run data versions (see ``server/events.py``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from deepscope.server.events import version_stream

router = APIRouter(prefix="/api", tags=["events"])


@router.get("/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request) -> StreamingResponse:
    """Event ``versions`` with ``{run_id: data_version}`` (all runs first, then changes only)
    and event ``findings`` with ``{run_id: {"info", "warning", "error"}}`` as diagnoses finish.
    """
    state = request.app.state
    return StreamingResponse(
        version_stream(request, state.watcher, state.stop, state.settings.findings),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
