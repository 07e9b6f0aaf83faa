"""The store keeps what was logged, reads it back fast and exactly, and survives kill -9."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import deepscope as ds
from deepscope.errors import (
    CorruptRunError,
    InvalidArgumentError,
    NotRecordedError,
    PathOutsideRootError,
    RunNotFoundError,
    RunVersionError,
)
from deepscope.store import open_reader
from deepscope.store.catalog import find_runs, resolve_run_id
from deepscope.store.downsample import minmax_indices
from deepscope.store.schema import DB_FILENAME, STAT_FIELDS
from deepscope.store.writer import RunWriter


def _writer(root: Path, name: str = "r") -> RunWriter:
    return RunWriter(root / name, meta={"name": name, "config": {"lr": 0.1}})


def test_roundtrip_scalars_stats_hists_meta(runs_dir: Path) -> None:
    w = _writer(runs_dir)
    for s in range(1000):
        w.log_scalars(s, {"train/loss": 1 / (s + 1), "train/acc": s / 1000})
    vec = np.arange(len(STAT_FIELDS), dtype=float)
    w.log_stats(5, [("fc1", "grad", vec), ("fc2", "grad", vec * 2)])
    w.log_stats(15, [("fc1", "grad", vec + 1)])
    w.log_histograms(5, [("fc1", "grad", -1.0, 1.0, np.arange(64))])
    w.add_event("nonfinite", 3, "fc2", {"source": "activation"})
    w.add_artifact("a", "predictions", {"x": [1, 2]}, {"png": ("image/png", b"\x89PNG")}, step=9)
    w.close()
    with open_reader(runs_dir / "r") as r:
        m = r.meta()
        assert (m.name, m.status, m.config, m.last_step) == ("r", "finished", {"lr": 0.1}, 999)
        assert r.scalar_tags() == ["train/acc", "train/loss"]
        loss = r.scalars("train/loss")
        assert loss.steps.tolist() == list(range(1000)) and loss.values[9] == 0.1
        mat = r.stat_matrix("grad", "norm")
        assert mat.layers == ("fc1", "fc2") and mat.steps.tolist() == [5, 15]
        assert mat.values[0].tolist() == [5.0, 6.0] and np.isnan(mat.values[1, 1])
        assert r.stat_series("fc1", "grad", ["mean"])["mean"].tolist() == [1.0, 2.0]
        assert r.histograms("fc1", "grad").counts[0].tolist() == list(range(64))
        assert r.events("nonfinite")[0].layer == "fc2"
        (info,) = r.artifacts()
        art = r.artifact(info.id)
        assert art.data == {"x": [1, 2]} and art.blobs["png"] == ("image/png", b"\x89PNG")
        with pytest.raises(NotRecordedError, match="never logged"):
            r.scalars("nope")
        with pytest.raises(InvalidArgumentError):
            r.stat_matrix("bogus", "norm")
        with pytest.raises(NotRecordedError):
            r.stat_series("fc3", "grad")


def test_duplicate_steps_last_write_wins_and_ranges(runs_dir: Path) -> None:
    w = _writer(runs_dir)
    w.log_scalars(1, {"loss": 1.0})
    w.log_scalars(0, {"loss": 0.5})
    w.flush()
    w.log_scalars(1, {"loss": 2.0})
    w.log_scalars(2, {"loss": 3.0})
    w.close()
    r = open_reader(runs_dir / "r")
    s = r.scalars("loss")
    assert s.steps.tolist() == [0, 1, 2] and s.values.tolist() == [0.5, 2.0, 3.0]
    assert r.scalars("loss", start=1, end=1).values.tolist() == [2.0]


@pytest.mark.parametrize("n,k", [(10, 4), (1000, 100), (100_003, 2000), (5, 100)])
def test_downsampling_keeps_first_last_min_max(n: int, k: int) -> None:
    rng = np.random.default_rng(n)
    v = rng.standard_normal(n).cumsum()
    v[n // 3] = 1e6  # a spike must survive
    idx = minmax_indices(v, k)
    assert len(idx) <= max(k, 2) and idx[0] == 0 and idx[-1] == n - 1
    assert np.all(np.diff(idx) > 0)
    assert v.argmax() in idx and v.argmin() in idx
    assert minmax_indices(v, k).tolist() == idx.tolist()  # deterministic


def test_reader_sees_data_while_writer_runs(runs_dir: Path) -> None:
    w = _writer(runs_dir)
    w.log_scalars(0, {"loss": 1.0})
    w.flush()
    r = open_reader(runs_dir / "r")
    v0 = r.data_version()
    assert r.meta().status == "running" and r.scalars("loss").values.tolist() == [1.0]
    w.log_scalars(1, {"loss": 0.5})
    time.sleep(1.6)  # the background writer flushes at least every second, without being asked
    assert r.scalars("loss").values.tolist() == [1.0, 0.5]
    assert r.data_version() > v0
    w.close()
    assert r.meta().status == "finished"


CHILD = textwrap.dedent(
    """
    import sys, time, torch
    from torch import nn
    import deepscope as ds
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = ds.init(name="victim", dir=sys.argv[1])
    run.watch(model, optimizer=opt, every=1)
    for step in range(100000):
        opt.zero_grad()
        loss = model(torch.randn(32, 4)).pow(2).mean()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
        if step == 50:
            print("ready", flush=True)
        time.sleep(0.002)
    """
)


def test_sigkill_leaves_a_readable_crashed_run(runs_dir: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(runs_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(1.5)  # at least one background flush after step 50
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    ((run_id, path),) = find_runs(runs_dir)
    con = sqlite3.connect(path / DB_FILENAME)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    r = ds.open_run(path)
    assert r.meta().status == "crashed"
    steps = r.scalars("train/loss").steps
    assert steps[0] == 0 and len(steps) > 50 and np.all(np.diff(steps) == 1)
    assert r.stat_steps("grad")[-1] >= 50
    assert r.meta().last_step >= 50


def test_bad_inputs_raise_specific_errors(tmp_path: Path, runs_dir: Path) -> None:
    with pytest.raises(RunNotFoundError, match="not a deepscope run"):
        ds.open_run(tmp_path)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / DB_FILENAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CorruptRunError, match="corrupt"):
        ds.open_run(garbage)
    w = _writer(runs_dir, "big")
    for s in range(20000):
        w.log_scalars(s, {"loss": float(s)})
        if s % 1000 == 0:
            w.flush()
    w.close()
    db = runs_dir / "big" / DB_FILENAME
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    with pytest.raises(CorruptRunError):
        r = ds.open_run(runs_dir / "big")
        r.scalars("loss")
    w = _writer(runs_dir, "future")
    w.update_meta(schema_version=99)
    w.close()
    with pytest.raises(RunVersionError, match="schema version 99"):
        ds.open_run(runs_dir / "future")


def test_catalog_ids_are_safe(runs_dir: Path) -> None:
    _writer(runs_dir, "a").close()
    (runs_dir / "team").mkdir()
    _writer(runs_dir / "team", "b").close()
    ids = [i for i, _ in find_runs(runs_dir)]
    assert ids == ["a", "team~b"]
    assert resolve_run_id(runs_dir, "team~b") == (runs_dir / "team" / "b").resolve()
    for bad in ["..", "~..~etc", "a/../..", "/etc/passwd", "%2e%2e", "", "a b"]:
        with pytest.raises((InvalidArgumentError, PathOutsideRootError)):
            resolve_run_id(runs_dir, bad)
    outside = runs_dir.parent / "outside"
    _writer(runs_dir.parent, "outside").close()
    (runs_dir / "link").symlink_to(outside)
    with pytest.raises(PathOutsideRootError):
        resolve_run_id(runs_dir, "link")
    assert json.loads(json.dumps(ds.open_run(runs_dir / "a").meta().to_dict()))["name"] == "a"


def test_downsampled_query_of_a_long_series_reads_envelopes(tmp_path) -> None:
    import math

    import deepscope as ds
    from deepscope.store.scalar_chunks import ScalarReader

    n = 60_000
    run = ds.init(name="long", dir=tmp_path)
    for i in range(n):
        run.log({"loss": math.sin(i / 300) + (5.0 if i == 41_234 else 0.0) - i * 1e-5}, step=i)
        if i % 20_000 == 0:
            run.flush()  # several chunks
    run.finish()
    truth = ds.open_run(run.path).scalars("loss")
    reader = ds.open_run(run.path)
    calls = []
    full = ScalarReader.series
    ScalarReader.series = lambda self, tag: calls.append(tag) or full(self, tag)  # type: ignore
    try:
        fast = reader.scalars("loss", max_points=800)
    finally:
        ScalarReader.series = full  # type: ignore[method-assign]
    assert calls == []  # the full series was not decoded
    assert fast.total_points == n and fast.downsampled and len(fast.steps) <= 800
    assert fast.steps[0] == 0 and fast.steps[-1] == n - 1
    pos = fast.steps
    np.testing.assert_array_equal(fast.values, truth.values[pos])  # real points only
    assert fast.values.max() == truth.values.max() and fast.values.min() == truth.values.min()
    assert 41_234 in pos  # a one-point spike survives


def test_steps_logged_twice_are_resolved_on_the_full_series(tmp_path) -> None:
    import deepscope as ds

    run = ds.init(name="again", dir=tmp_path)
    for i in range(20_000):
        run.log({"loss": float(i)}, step=i)
    run.flush()
    for i in range(10_000):
        run.log({"loss": -1.0}, step=i)  # rewritten: the last write wins
    run.finish()
    s = ds.open_run(run.path).scalars("loss", max_points=100)
    assert s.total_points == 20_000 and s.values.min() == -1.0
