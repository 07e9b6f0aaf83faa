"""Who can read a run, and what its status says.

* A viewer who cannot write the run's directory (shared results, a read-only mount) opens
  finished and killed runs: ``ls``, ``diagnose``, ``report`` and the server all work.
* ``running`` needs a fresh heartbeat (a container's PID 1 is always alive), ``sys.exit(1)``
  is crashed with exit code 1, SIGTERM keeps everything logged and says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import deepscope as ds
from deepscope.store.schema import DB_FILENAME
from deepscope.store.writer import RunWriter

KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from deepscope.store.writer import RunWriter
    w = RunWriter(sys.argv[1], {"name": "killed", "config": {}})
    for step in range(500):
        w.log_scalars(step, {"train/loss": 1.0 / (step + 1)})
    w.flush()
    os.kill(os.getpid(), signal.SIGKILL)
    """
)

READER = textwrap.dedent(
    """
    import json, sys
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner
    import deepscope as ds
    from deepscope.cli import app
    from deepscope.server.app import create_app
    root, out = sys.argv[1], sys.argv[2]
    report = {}
    runner = CliRunner()
    for name in ("finished", "killed"):
        run = f"{root}/{name}"
        with ds.open_run(run) as r:
            report[name] = [r.meta().status, len(r.scalars("train/loss").steps)]
        result = runner.invoke(app, ["diagnose", run, "--format", "json"])
        report[name + " diagnose"] = [result.exit_code, result.output[-300:]]
        result = runner.invoke(app, ["report", run, "-o", f"{out}/{name}.html"])
        report[name + " report"] = [result.exit_code, result.output[-300:]]
    result = runner.invoke(app, ["ls", root, "--json"])
    report["ls"] = [result.exit_code, result.output[-300:]]
    client = TestClient(create_app(root), base_url="http://127.0.0.1")
    listed = client.get("/api/runs").json()
    report["server"] = sorted((row["id"], row["status"]) for row in listed)
    report["findings"] = client.get("/api/runs/finished/findings").status_code
    report["series"] = len(client.get("/api/runs/killed/scalars/series",
                                      params={"tag": "train/loss"}).json()["steps"])
    print(json.dumps(report))
    """
)


def _writable_by_me(path: Path) -> bool:
    probe = path / ".probe"
    try:
        probe.write_text("x")
    except OSError:
        return False
    probe.unlink()
    return True


@pytest.fixture()
def shared_root() -> Iterator[Path]:
    # Outside pytest's private tmp (mode 0700) so a less privileged reader can reach it.
    root = Path(tempfile.mkdtemp(prefix="deepscope-ro-"))
    os.chmod(root, 0o755)
    yield root
    for p in [root, *root.rglob("*")]:
        if p.is_dir():
            os.chmod(p, 0o755)
    shutil.rmtree(root, ignore_errors=True)


def test_a_viewer_who_cannot_write_reads_finished_and_killed_runs(shared_root: Path,
                                                                  tmp_path: Path) -> None:
    w = RunWriter(shared_root / "finished", {"name": "finished", "config": {}})
    for step in range(300):
        w.log_scalars(step, {"train/loss": 1.0 / (step + 1)})
    w.close()
    subprocess.run([sys.executable, "-c", KILLED_WRITER, str(shared_root / "killed")],
                   timeout=120)
    assert (shared_root / "killed" / f"{DB_FILENAME}-wal").exists()  # a log no one checkpointed
    for p in [*shared_root.rglob("*"), shared_root]:
        os.chmod(p, 0o555 if p.is_dir() else 0o444)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root ignores file modes: drop the capabilities that allow that
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop the right to write")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run([*prefix, sys.executable, "-c", READER, str(shared_root), str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["finished"] == ["finished", 300]
    assert report["killed"] == ["crashed", 500]
    for name in ("finished", "killed"):
        assert report[name + " diagnose"][0] in (0, 1), report[name + " diagnose"]
        static_built = (Path(ds.__file__).parent / "server" / "static" / "index.html").exists()
        if static_built:
            assert report[name + " report"][0] == 0, report[name + " report"]
    assert report["ls"][0] == 0 and "unreadable" not in report["ls"][1]
    assert report["server"] == [["finished", "finished"], ["killed", "crashed"]]
    assert report["findings"] == 200 and report["series"] == 500
    assert not _writable_by_me(shared_root) or os.geteuid() == 0


def _age_heartbeat(path: Path, seconds: float, pid: int) -> None:
    con = sqlite3.connect(path / DB_FILENAME)
    with con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'heartbeat'",
                    (str(time.time() - seconds),))
        con.execute("UPDATE meta SET value = ? WHERE key = 'pid'", (str(pid),))
    con.close()


def test_running_needs_a_fresh_heartbeat_even_when_the_pid_lives(runs_dir: Path) -> None:
    # A run written as PID 1 in a container: pid 1 is alive in every container.
    w = RunWriter(runs_dir / "pid1", {"name": "pid1", "config": {}})
    w.log_scalars(0, {"loss": 1.0})
    w.flush()
    w._interval = 3600.0  # no more heartbeats from this writer: it stands for a dead one
    _age_heartbeat(runs_dir / "pid1", 10, os.getpid())
    assert ds.open_run(runs_dir / "pid1").meta().status == "running"
    _age_heartbeat(runs_dir / "pid1", 120, os.getpid())
    assert ds.open_run(runs_dir / "pid1").meta().status == "crashed"


EXITING = textwrap.dedent(
    """
    import sys, deepscope as ds
    run = ds.init(name="exiting", dir=sys.argv[1])
    run.log({"loss": 1.0}, step=0)
    sys.exit(int(sys.argv[2]))
    """
)


@pytest.mark.parametrize("code,status", [(0, "finished"), (1, "crashed"), (3, "crashed")])
def test_exit_status_is_recorded(runs_dir: Path, code: int, status: str) -> None:
    proc = subprocess.run([sys.executable, "-c", EXITING, str(runs_dir), str(code)],
                          timeout=120)
    assert proc.returncode == code
    (path,) = runs_dir.iterdir()
    meta = ds.open_run(path).meta()
    assert (meta.status, meta.exit_code) == (status, code)
    if code:
        assert meta.error == f"exited with status {code}"


TERMINATED = textwrap.dedent(
    """
    import sys, time, deepscope as ds
    run = ds.Run(name="terminated", dir=sys.argv[1], flush_interval=30.0)
    step = 0
    while True:
        run.log({"loss": 1.0 / (step + 1)}, step=step)
        print(step, flush=True)
        step += 1
        time.sleep(0.01)
    """
)


def test_sigterm_writes_everything_logged_and_says_so(runs_dir: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", TERMINATED, str(runs_dir)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    last = -1
    for line in proc.stdout:
        last = int(line)
        if last >= 100:  # the writer flushes every 30 s here: all of this is only queued
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    proc.wait(timeout=60)
    last = max([last, *map(int, rest.split())])
    assert proc.returncode == -signal.SIGTERM  # the signal still ends the process as before
    (path,) = runs_dir.iterdir()
    with ds.open_run(path) as r:
        meta = r.meta()
        assert meta.status == "crashed" and meta.error == "terminated by SIGTERM"
        assert meta.exit_code == 128 + signal.SIGTERM
        assert r.scalars("loss").steps.tolist()[: last + 1] == list(range(last + 1))


def test_a_finished_run_is_one_file(runs_dir: Path) -> None:
    w = RunWriter.create(runs_dir, "r", {"name": "r", "config": {}})
    w.log_scalars(0, {"loss": 1.0})
    w.close()
    # No -wal / -shm left (a read-only viewer opens it immutable), no temporary file.
    assert sorted(p.name for p in w.path.iterdir()) == [DB_FILENAME]
