"""Kill a training run at seeded points of ``ds.init``, training, ``flush`` and ``finish``.

Every point must leave either no run (only when it struck inside ``ds.init``) or a run that
opens, passes SQLite's ``integrity_check``, has the right status, and holds every step up to
its last ``flush()`` -- every step logged, when the process could act (SIGTERM, an exception,
``sys.exit``) outside ``finish``. Points come from ``killpoints.py`` (one forked child each);
k is drawn from the event counts of an uninterrupted run, so points land all over each phase.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import deepscope as ds
from deepscope.errors import DeepscopeError
from deepscope.store.catalog import find_runs
from deepscope.store.schema import DB_FILENAME

HERE = Path(__file__).parent
SEEDS = (0, 1, 2)
POINTS_PER_SEED = 30
PHASES = ("init", "train", "flush", "finish")
MODES = ("sigkill", "sigterm", "exception", "exit")


class Zygote:
    """The forking process of ``killpoints.py``, fed one point at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(HERE / "killpoints.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, point: dict) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(point) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, "the kill-point process died"
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


@pytest.fixture(scope="module")
def counts(zygote: Zygote, tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Events per phase and counter in an uninterrupted run (the range k is drawn from)."""
    root = tmp_path_factory.mktemp("count")
    result = zygote.run({"id": 0, "root": str(root), "phase": "", "counter": "", "k": 0,
                         "mode": "count"})
    assert result["exit_code"] == 0, result
    lines = (root / "progress").read_text().splitlines()
    return json.loads(lines[-1].removeprefix("counts "))


def points(seed: int, counts: dict[str, int], base: Path) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(POINTS_PER_SEED):
        phase = PHASES[i % len(PHASES)]  # every phase gets its share of each seed
        mode = MODES[int(rng.integers(len(MODES)))]
        sql = mode in ("sigkill", "sigterm") and f"{phase}:sql" in counts
        counter = "sql" if sql and rng.random() < 0.5 else "line"
        top = max(counts.get(f"{phase}:{counter}", 1), 1)
        out.append({"id": seed * 1000 + i, "root": str(base / str(i)), "phase": phase,
                    "counter": counter, "k": int(rng.integers(1, top + 1)), "mode": mode})
    return out


def _progress(root: Path) -> tuple[int, int, bool, bool]:
    """(last logged step, last flushed step, finished, struck) as the child recorded them."""
    logged = flushed = -1
    finished = struck = False
    path = root / "progress"
    for line in path.read_text().splitlines() if path.exists() else []:
        word, _, value = line.partition(" ")
        if word == "logged":
            logged = int(value)
        elif word == "flushed":
            flushed = int(value)
        elif word == "finished":
            finished = True
        elif word == "acting":
            struck = True
    return logged, flushed, finished, struck


def check_point(point: dict, result: dict) -> None:
    root = Path(point["root"])
    logged, flushed, finished, struck = _progress(root)
    runs_root = root / "runs"
    found = find_runs(runs_root) if runs_root.is_dir() else []
    if not found:
        assert point["phase"] == "init", f"no run left by {point} -> {result}"
        return
    ((_, path),) = found
    con = sqlite3.connect(f"file:{path / DB_FILENAME}?mode=ro", uri=True)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok", point
    con.close()
    with ds.open_run(path) as reader:
        meta = reader.meta()
        steps = (reader.scalars("train/loss").steps.tolist()
                 if "train/loss" in reader.scalar_tags() else [])
    expected = "finished" if not struck else None
    if expected is None and point["phase"] == "finish" and meta.status == "finished":
        expected = "finished"  # struck after the final status was committed
    assert meta.status == (expected or "crashed"), (point, result, meta)
    acted = struck and point["phase"] in ("train", "flush")  # a live run, not finishing
    if acted and point["mode"] == "sigterm":
        assert meta.error and "SIGTERM" in meta.error, (point, meta)
    if acted and point["mode"] == "exit":
        assert meta.exit_code == 1, (point, meta)
    must_have = flushed
    if not struck or (point["mode"] != "sigkill" and point["phase"] in ("train", "flush")):
        must_have = logged  # the process could act on its way out: nothing logged is lost
    assert steps[: must_have + 1] == list(range(must_have + 1)), (point, result, steps)
    if finished:
        assert steps == list(range(10)), (point, steps)


@pytest.mark.parametrize("seed", SEEDS)
def test_kill_matrix(seed: int, zygote: Zygote, counts: dict[str, int], tmp_path: Path) -> None:
    failures = []
    struck: dict[str, int] = {}
    for point in points(seed, counts, tmp_path):
        result = zygote.run(point)
        if _progress(Path(point["root"]))[3]:
            key = f"{point['phase']}/{point['mode']}"
            struck[key] = struck.get(key, 0) + 1
        try:
            check_point(point, result)
        except (AssertionError, DeepscopeError) as err:
            failures.append(f"{point['phase']}/{point['counter']}#{point['k']} "
                            f"{point['mode']}: {err}")
    print(f"seed {seed}: {sum(struck.values())} of {POINTS_PER_SEED} points struck: {struck}")
    assert not failures, "\n".join(failures)
