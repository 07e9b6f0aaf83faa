"""What keeps the server fast and standing under many clients: one diagnosis per run version
however many ask, cached answers that a heartbeat does not invalidate, TCP_NODELAY, and an
unexpected error that answers 500 without dropping the kept-alive connection.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from fastapi.testclient import TestClient
from server_runs import write_run

from deepscope.server import create_app, summary
from deepscope.server.serve import bind_socket
from deepscope.store.schema import DB_FILENAME
from deepscope.store.sqlite import SqliteRunReader


def test_concurrent_cold_findings_diagnose_once(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    write_run(tmp_path / "r", steps=20)
    calls: list[int] = []
    real = summary.diagnose_reader

    def slow(reader):  # noqa: ANN001, ANN202
        calls.append(1)
        time.sleep(0.5)
        return real(reader)

    monkeypatch.setattr(summary, "diagnose_reader", slow)
    client = TestClient(create_app(tmp_path, static_dir=tmp_path / "s"),
                        base_url="http://127.0.0.1")
    answers: list[int] = []
    threads = [threading.Thread(target=lambda: answers.append(
        client.get("/api/runs/r/findings").status_code)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert answers == [200] * 8 and len(calls) == 1


def _heartbeat(path: Path) -> None:
    con = sqlite3.connect(path / DB_FILENAME)
    with con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'heartbeat'", (str(time.time()),))
    con.close()


def test_a_live_runs_statistics_stay_cached_across_heartbeats_and_scalars(
    tmp_path: Path, monkeypatch  # noqa: ANN001
) -> None:
    writer = write_run(tmp_path / "live", steps=10, finish=False)
    builds: list[int] = []
    real = SqliteRunReader.stat_matrix

    def counted(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        builds.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SqliteRunReader, "stat_matrix", counted)
    client = TestClient(create_app(tmp_path, static_dir=tmp_path / "s"),
                        base_url="http://127.0.0.1")
    url, params = "/api/runs/live/stats", {"kind": "grad", "field": "norm"}
    first = client.get(url, params=params).json()
    _heartbeat(tmp_path / "live")
    writer.log_scalars(99, {"train/loss": 0.01})  # new scalars, no new statistics
    writer.flush()
    assert client.get(url, params=params).json() == first and len(builds) == 1
    writer.log_stats(99, [("fc1", "grad", [1.0] * 11)])
    writer.flush()
    assert client.get(url, params=params).json()["steps"][-1] == 99 and len(builds) == 2
    writer.close()


def test_the_listening_socket_is_tcp_with_nodelay() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets NODELAY only on such sockets
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()


def test_an_unexpected_error_keeps_the_connection(tmp_path: Path) -> None:
    write_run(tmp_path / "r", steps=5)
    app = create_app(tmp_path, static_dir=tmp_path / "s")

    def boom() -> None:
        raise RuntimeError(f"secret detail in {tmp_path}")

    app.add_api_route("/api/boom", boom)
    app.router.routes.insert(0, app.router.routes.pop())  # before the SPA's catch-all route

    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(100):
                try:
                    client.get("/api/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            bad = client.get("/api/boom")
            assert bad.status_code == 500 and "RuntimeError" in bad.json()["error"]
            assert str(tmp_path) not in bad.text and "secret" not in bad.text
            again = client.get("/api/runs")  # the same kept-alive connection
            assert again.status_code == 200 and again.json()[0]["id"] == "r"
            assert client.get("/api/runs/r/layers").status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_ui_on_a_run_directory_serves_that_run(tmp_path: Path) -> None:
    write_run(tmp_path / "only-run", steps=8)
    client = TestClient(create_app(tmp_path / "only-run", static_dir=tmp_path / "s"),
                        base_url="http://127.0.0.1")
    (row,) = client.get("/api/runs").json()
    assert row["id"] == "only-run"
    resp = client.get("/api/runs/only-run/scalars/series", params={"tag": "train/loss"})
    assert resp.status_code == 200 and resp.json()["steps"][-1] == 7
    assert client.get("/api/runs/only-run/layers").status_code == 200
