"""Two real gloo processes on 127.0.0.1: one run per job, equal to the same global batch on one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deepscope as ds
from deepscope.store.schema import STAT_FIELDS

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import dist_worker  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_ranks(root: Path, mode: str, world: int = 2) -> list[str]:
    port = _free_port()
    procs = []
    for rank in range(world):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "RANK": str(rank), "WORLD_SIZE": str(world), "OMP_NUM_THREADS": "1"}
        procs.append(subprocess.Popen(
            [sys.executable, str(HERE / "dist_worker.py"), str(root), mode],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail(f"{mode} ranks did not finish in 240 s")
        assert p.returncode == 0, err[-3000:]
        outs.append(out)
    return outs


def _single(root: Path) -> Path:
    run = ds.init(name="single", dir=root)
    dist_worker.train(dist_worker.make_model(), run, rank=0, world=1)
    run.finish()
    return Path(run.path)


def _rows(path: Path) -> dict[tuple[str, str], np.ndarray]:
    r = ds.open_run(path)
    out = {}
    for kind in r.stat_kinds():
        for info in r.layers():
            try:
                s = r.stat_series(info.name, kind)
            except ds.DeepscopeError:
                continue
            out[(info.name, kind)] = np.stack([s[f] for f in STAT_FIELDS], axis=1)
    return out


@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_ranks_make_one_run_equal_to_the_global_batch(mode: str, tmp_path: Path) -> None:
    root = tmp_path / "dist"
    outs = _run_ranks(root, mode)
    runs = [p for p in root.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs  # one run per job, not per rank
    paths = {line.split(" path ")[1] for out in outs for line in out.splitlines()
             if " path " in line}
    assert paths == {str(runs[0])}  # every rank knows the run's directory
    meta = ds.open_run(runs[0]).meta()
    assert meta.status == "finished"
    dist_rows, single_rows = _rows(runs[0]), _rows(_single(tmp_path / "single"))
    assert set(dist_rows) == set(single_rows)
    assert not any(name.startswith(("module.", "_fsdp")) for name, _ in dist_rows)
    for key, want in single_rows.items():
        got = dist_rows[key]
        assert got.shape == want.shape, key
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6, err_msg=str(key))
    ra, rb = ds.open_run(runs[0]), ds.open_run(_single(tmp_path / "single2"))
    for info in ra.layers():
        for kind in ("activation", "grad"):
            try:
                ha, hb = ra.histograms(info.name, kind), rb.histograms(info.name, kind)
            except ds.DeepscopeError:
                continue
            assert ha.counts.sum() == hb.counts.sum()
            assert np.abs(ha.counts - hb.counts).sum() <= 2 * len(ha.steps)  # bin-edge rounding
