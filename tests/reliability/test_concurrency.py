"""Many writers at once: same-name runs never share a directory, readers, ``ls`` and the server
keep answering while eight processes write.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import deepscope as ds
from deepscope.cli import app
from deepscope.server.app import create_app
from deepscope.store import rundir
from deepscope.store.catalog import find_runs


@pytest.mark.parametrize("suffix_bits", [24, 8], ids=["real-suffix", "forced-collisions"])
def test_100_same_name_inits_at_once_get_100_runs(runs_dir: Path, suffix_bits: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    if suffix_bits == 8:  # 256 names for 100 runs started in one second: many collisions
        monkeypatch.setattr(rundir, "_suffix", lambda: secrets.token_hex(1))
    barrier = threading.Barrier(100, timeout=60)
    errors: list[BaseException] = []
    runs: list[ds.Run] = []

    def start(i: int) -> None:
        try:
            barrier.wait()
            run = ds.init(name="same", dir=runs_dir, config={"i": i})
            run.log({"who": float(i)}, step=0)
            runs.append(run)
        except BaseException as err:  # noqa: BLE001 - collected and reported below
            errors.append(err)

    threads = [threading.Thread(target=start, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for run in runs:
        run.finish()
    assert not errors, errors[:3]
    found = find_runs(runs_dir)
    assert len(found) == 100 == len({p for _, p in found})
    seen = set()
    for _, path in found:
        with ds.open_run(path) as r:
            (who,) = r.scalars("who").values.tolist()
            assert r.meta().config["i"] == who and r.meta().status == "finished"
            seen.add(who)
    assert seen == set(map(float, range(100)))


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from deepscope.store.writer import RunWriter
    root, go = Path(sys.argv[1]), Path(sys.argv[2])
    while not go.exists():
        time.sleep(0.005)
    w = RunWriter.create(root, "same", {"name": "same", "config": {"who": int(sys.argv[3])}},
                         flush_interval=0.05)
    for step in range(400):
        w.log_scalars(step, {"train/loss": 1.0 / (step + 1), "who": float(sys.argv[3])})
        if step % 50 == 0:
            w.flush()
        time.sleep(0.002)
    w.close()
    """
)


def test_eight_writers_with_readers_ls_and_server(runs_dir: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(runs_dir), str(go), str(i)])
             for i in range(8)]
    client = TestClient(create_app(runs_dir, static_dir=tmp_path / "s"),
                        base_url="http://127.0.0.1")
    runner = CliRunner()
    problems: list[str] = []
    try:
        go.write_text("go")
        deadline = time.monotonic() + 120
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            listed = client.get("/api/runs")
            if listed.status_code != 200:
                problems.append(f"/api/runs {listed.status_code}")
            for row in listed.json():
                if row["status"] == "unreadable":
                    problems.append(f"unreadable while written: {row['error']}")
                resp = client.get(f"/api/runs/{row['id']}/scalars/series",
                                  params={"tag": "train/loss"})
                if resp.status_code not in (200, 404):  # 404: no point flushed yet
                    problems.append(f"series {resp.status_code}: {resp.text}")
            result = runner.invoke(app, ["ls", str(runs_dir), "--json"])
            if result.exit_code != 0:
                problems.append(f"ls exit {result.exit_code}: {result.output[:200]}")
            else:
                problems += [f"ls: {row}" for row in json.loads(result.output)
                             if "status" not in row]
    finally:
        for p in procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
    assert [p.returncode for p in procs] == [0] * 8
    assert not problems, problems[:5]
    found = find_runs(runs_dir)
    assert len(found) == 8
    whos = set()
    for _, path in found:
        with ds.open_run(path) as r:
            assert r.meta().status == "finished"
            assert r.scalars("train/loss").steps.tolist() == list(range(400))
            (who,) = set(r.scalars("who").values.tolist())
            whos.add(who)
    assert whos == set(map(float, range(8)))
