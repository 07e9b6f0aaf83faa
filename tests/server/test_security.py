"""Token on every route but /api/health, Host check without a token, headers, SPA serving."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepscope.errors import InvalidArgumentError
from deepscope.server import create_app
from deepscope.server.security import COOKIE, dashboard_url, is_loopback, resolve_token
from deepscope.server.serve import bind_socket

TOKEN = "t0ken-for-tests"


@pytest.fixture()
def spa(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<!doctype html><title>spa</title>"
                                       '<script type="module" src="./assets/app.js"></script>')
    (static / "assets" / "app.js").write_text("console.log('app')")
    (tmp_path / "secret.txt").write_text("do not serve")
    return static


@pytest.fixture()
def guarded(runs_root: Path, spa: Path) -> TestClient:
    return TestClient(create_app(runs_root, token=TOKEN, static_dir=spa),
                      base_url="http://192.0.2.10:6007")


@pytest.mark.parametrize("path", ["/api/runs", "/api/runs/mlp-a", "/api/runs/mlp-a/layers",
                                  "/api/events", "/openapi.json", "/", "/assets/app.js"])
def test_token_required_everywhere(guarded: TestClient, path: str) -> None:
    resp = guarded.get(path)
    assert resp.status_code == 401 and "token" in resp.json()["error"]
    assert guarded.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get(path, params={"token": TOKEN[:-1]}).status_code == 401


def test_health_is_open(guarded: TestClient) -> None:
    assert guarded.get("/api/health").status_code == 200


def test_token_in_header_query_or_cookie(guarded: TestClient) -> None:
    assert guarded.get("/api/runs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    first = guarded.get("/", params={"token": TOKEN})
    assert first.status_code == 200 and "spa" in first.text
    assert COOKIE in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]
    # The page's own script loads with the cookie the first answer set.
    assert guarded.get("/assets/app.js").status_code == 200
    guarded.cookies.clear()
    assert guarded.get("/assets/app.js").status_code == 401


def test_other_host_header_refused_without_token(runs_root: Path, spa: Path) -> None:
    app = create_app(runs_root, static_dir=spa)
    evil = TestClient(app, base_url="http://evil.example:6007")
    resp = evil.get("/api/runs")
    assert resp.status_code == 403 and "not allowed" in resp.json()["error"]
    for host in ("http://localhost:6007", "http://127.0.0.1", "http://[::1]:6007"):
        assert TestClient(app, base_url=host).get("/api/runs").status_code == 200


def test_security_headers(client: TestClient, spa: Path, runs_root: Path) -> None:
    api = client.get("/api/runs")
    assert api.headers["x-content-type-options"] == "nosniff"
    page = TestClient(create_app(runs_root, static_dir=spa), base_url="http://127.0.0.1").get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "http" not in csp and "*" not in csp
    assert page.headers["referrer-policy"] == "no-referrer"


def test_spa_routes_fall_back_to_index(runs_root: Path, spa: Path) -> None:
    c = TestClient(create_app(runs_root, static_dir=spa), base_url="http://127.0.0.1")
    assert "spa" in c.get("/runs/mlp-a/scalars").text
    assert c.get("/assets/app.js").text == "console.log('app')"
    assert c.get("/runs/mlp-a/assets/app.js").text == "console.log('app')"
    assert c.get("/assets/missing.js").status_code == 404
    for path in ("/%2e%2e/secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt"):
        resp = c.get(path)
        assert "do not serve" not in resp.text


def test_not_built_page(client: TestClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 200 and "dashboard assets not built: run `make web`" in resp.text
    assert client.get("/api/runs").status_code == 200


def test_token_policy() -> None:
    assert resolve_token("127.0.0.1", None) is None and resolve_token("::1", None) is None
    generated = resolve_token("0.0.0.0", None)
    assert generated and len(generated) >= 32 and generated != resolve_token("0.0.0.0", None)
    assert resolve_token("0.0.0.0", "a-long-enough-token") == "a-long-enough-token"
    assert resolve_token("localhost", "given") == "given"  # loopback: any token is extra
    with pytest.raises(InvalidArgumentError, match="at least 16 characters"):
        resolve_token("0.0.0.0", "x")
    assert not is_loopback("192.168.1.2")
    assert dashboard_url("0.0.0.0", 8000, "a b") == "http://127.0.0.1:8000/?token=a%20b"
    assert dashboard_url("::1", 8000, None) == "http://[::1]:8000/"


def test_port_in_use_is_a_one_line_error() -> None:
    sock = bind_socket("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        with pytest.raises(InvalidArgumentError, match="--port"):
            bind_socket("127.0.0.1", port).close()
    finally:
        sock.close()
    with pytest.raises(InvalidArgumentError, match="out of range"):
        bind_socket("127.0.0.1", 70000)
