"""`deepscope ui` and `deepscope report` from the command line."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from server_runs import write_run
from typer.testing import CliRunner

from deepscope.cli import app
from deepscope.server.static import DEFAULT_STATIC

EXE = str(Path(sys.executable).with_name("deepscope"))


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([EXE, "ui", *args, "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/\S*)", line)
        if m:
            return proc, m.group(1)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError("no URL printed")


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_ui_prints_url_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    write_run(tmp_path / "runs" / "a", steps=3)
    proc, url = _start(str(tmp_path / "runs"))
    try:
        runs = httpx.get(url + "api/runs", timeout=20).json()
        assert [r["id"] for r in runs] == ["a"]
        with httpx.stream("GET", url + "api/events", timeout=20) as events:
            assert events.status_code == 200
            code = _stop(proc)  # an open event stream does not hold up Ctrl-C
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0


def test_ui_with_token_prints_it_and_requires_it(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    proc, url = _start(str(tmp_path / "runs"), "--token", "cli-token")
    try:
        assert url.endswith("?token=cli-token")
        base = url.split("?")[0]
        assert httpx.get(base + "api/runs", timeout=20).status_code == 401
        assert httpx.get(url, timeout=20).status_code == 200
        assert httpx.get(base + "api/health", timeout=20).status_code == 200
    finally:
        _stop(proc)


def test_report_command_errors_are_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope"), "-o",
                                      str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "not a deepscope run" in result.output


@pytest.mark.skipif(not (DEFAULT_STATIC / "index.html").is_file(),
                    reason="dashboard not built (`make web`; `make test` builds it first)")
def test_report_command_writes_the_file(tmp_path: Path) -> None:
    write_run(tmp_path / "run", steps=5)
    out = tmp_path / "out.html"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "report written" in result.output and out.stat().st_size > 1000
    # several runs in one report
    write_run(tmp_path / "other", name="other", steps=5)
    cmp = tmp_path / "cmp.html"
    result = CliRunner().invoke(app, ["report", str(tmp_path / "run"), str(tmp_path / "other"),
                                      "-o", str(cmp)])
    assert result.exit_code == 0, result.output
    assert "2 runs" in result.output and '"name":"other"' in cmp.read_text()
