"""Live updates over a real uvicorn server on 127.0.0.1: versions after writes, clean shutdown."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from server_runs import write_run

from deepscope.server import create_app
from deepscope.server.events import diff_versions, format_event
from deepscope.server.serve import _Server, bind_socket


class LiveServer:
    def __init__(self, root: Path, token: str | None = None) -> None:
        self.app = create_app(root, token=token)
        self.sock = bind_socket("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=3)
        self.server = _Server(config, self.app.state.stop)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started
        return self

    def stop(self) -> float:
        t0 = time.monotonic()
        self.server.handle_exit(2, None)
        self.thread.join(timeout=10)
        self.sock.close()
        return time.monotonic() - t0


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[LiveServer]:
    root = tmp_path / "runs"
    write_run(root / "done", steps=5)
    server = LiveServer(root).start()
    yield server
    if server.thread.is_alive():
        server.stop()


def _events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    event = ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, line[6:]


def _next_versions(events: Iterator[tuple[str, str]], deadline: float) -> dict:
    for name, data in events:
        if name == "versions":
            return json.loads(data)
        assert time.monotonic() < deadline
    raise AssertionError("stream ended")


def test_versions_stream_reports_new_data_and_new_runs(live: LiveServer) -> None:
    root = Path(live.app.state.settings.root)
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client, \
            client.stream("GET", live.url + "/api/events") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _events(r.iter_lines())
        first = _next_versions(events, time.monotonic() + 10)
        assert set(first) == {"done"}
        writer = write_run(root / "live", steps=3, finish=False)
        appeared = _next_versions(events, time.monotonic() + 10)
        assert "live" in appeared and "done" not in appeared
        before = appeared["live"]
        t0 = time.monotonic()
        writer.log_scalars(100, {"train/loss": 0.5})
        writer.flush()
        changed = _next_versions(events, time.monotonic() + 10)
        while "live" not in changed:
            changed = _next_versions(events, time.monotonic() + 10)
        assert changed["live"] != before
        assert time.monotonic() - t0 < 10  # bounded wait, not a timing claim
        writer.close()
        series = client.get(live.url + "/api/runs/live/scalars/series",
                            params={"tag": "train/loss"}).json()
        assert series["steps"][-1] == 100


def test_findings_event_after_background_diagnosis(live: LiveServer) -> None:
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client, \
            client.stream("GET", live.url + "/api/events") as r:
        runs = client.get(live.url + "/api/runs").json()
        assert runs[0]["id"] == "done"
        deadline = time.monotonic() + 20
        for name, data in _events(r.iter_lines()):
            if name == "findings":
                assert set(json.loads(data)["done"]) == {"info", "warning", "error"}
                break
            assert time.monotonic() < deadline
        else:
            raise AssertionError("stream ended")


def test_open_stream_does_not_block_shutdown(live: LiveServer) -> None:
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client, \
            client.stream("GET", live.url + "/api/events") as r:
        events = _events(r.iter_lines())  # kept: the stream must stay open (see below)
        next(events)
        took = live.stop()
    assert not live.thread.is_alive()
    assert took < 30  # a blocked shutdown would hang: a bound, not a timing claim


def test_token_applies_to_event_stream(tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "a", steps=3)
    server = LiveServer(tmp_path / "runs", token="sse-token").start()
    try:
        with httpx.Client(timeout=httpx.Timeout(10.0)) as client:
            assert client.get(server.url + "/api/events").status_code == 401
            with client.stream("GET", server.url + "/api/events",
                               params={"token": "sse-token"}) as r:
                assert r.status_code == 200
                assert "a" in _next_versions(_events(r.iter_lines()), time.monotonic() + 10)
    finally:
        server.stop()


def test_helpers() -> None:
    assert diff_versions({"a": 1}, {"a": 2, "b": 1}) == {"a": 2, "b": 1}
    assert diff_versions({"a": 1}, {}) == {"a": None}
    assert format_event("versions", {}) == "event: versions\ndata: {}\n\n"


def test_stream_ends_when_the_client_disconnects(live: LiveServer) -> None:
    watcher = live.app.state.watcher
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client, \
            client.stream("GET", live.url + "/api/events") as r:
        # Keep the iterator: a dropped one is closed at once, and httpx then closes the
        # response -- a real disconnect, which made this test fail now and then.
        events = _events(r.iter_lines())
        next(events)
        assert watcher.streams == 1
    deadline = time.monotonic() + 10
    while watcher.streams and time.monotonic() < deadline:
        time.sleep(0.05)
    assert watcher.streams == 0
