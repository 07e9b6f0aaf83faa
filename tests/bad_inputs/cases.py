"""The table of bad inputs: case -> expected exception -> message, by issue-12 group.

* ``RUNS``: bad runs on disk. Each goes through the API (open, read everything, diagnose), the
  CLI (``ls``, ``diagnose`` in every format and with ``--fail-on``, ``report``) and the server
  (the list, the run, its findings and the route named in ``http``).
* ``CALLS``: bad Python API calls (``ds.init``, ``run.log``, ``run.watch``, ...).
* ``COMMANDS``: bad CLI invocations (exit code 2 and one ``error:`` line).
* ``REQUESTS``: bad HTTP requests (a 4xx with a one-line JSON error, never a 5xx).

Groups (issue 12): 1 corrupt run passes diagnosis, 2 read-only viewers, 3 directory collisions,
4 one bad run breaks listings, 5 half-made runs, 6 status, 7 load, 8 server inputs, 9 API/CLI
inputs. Groups 2, 3, 6 and 7 need processes and time: ``tests/reliability/`` covers them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepscope.errors import (
    CorruptRunError,
    DeepscopeError,
    InvalidArgumentError,
    PathOutsideRootError,
    RunNotFoundError,
    RunVersionError,
)
from deepscope.store.records import LayerInfo
from deepscope.store.schema import DB_FILENAME, STAT_FIELDS
from deepscope.store.writer import RunWriter


def good_run(path: Path, steps: int = 300) -> Path:
    """A small finished run with scalars, layers, statistics, histograms, graph and events."""
    w = RunWriter(path, meta={"name": path.name, "config": {"lr": 0.1}})
    w.set_layers([LayerInfo("fc1", "Linear", "other", 0, 10, 10)])
    vec = np.ones(len(STAT_FIELDS))
    for s in range(steps):
        w.log_scalars(s, {"train/loss": 1.0 / (s + 1), "val/loss": 1.2 / (s + 1)})
        if s % 50 == 0:
            w.log_stats(s, [("fc1", "weight", vec), ("fc1", "grad", vec)])
            w.log_histograms(s, [("fc1", "weight", -1.0, 1.0, np.arange(8))])
            w.flush()
    w.set_graph({"format": "deepscope.graph/1", "nodes": [], "edges": []})
    w.add_event("nonfinite", 3, "fc1", {"source": "activation", "modules": ["fc1"]})
    w.close()
    return path


def _sql(path: Path, *statements: str) -> Path:
    con = sqlite3.connect(path / DB_FILENAME)
    with con:
        for statement in statements:
            con.execute(statement)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def _damaged(*statements: str) -> Callable[[Path], Path]:
    return lambda path: _sql(good_run(path), *statements)


def _bytes(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.mkdir(parents=True)
        (path / DB_FILENAME).write_bytes(data)
        return path

    return make


def _truncated(path: Path) -> Path:
    db = good_run(path, steps=3000) / DB_FILENAME
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 4])
    return path


def _half_made(path: Path) -> Path:
    """What a kill inside the old ds.init could leave: tables but no metadata yet."""
    path.mkdir(parents=True)
    con = sqlite3.connect(path / DB_FILENAME)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.commit()
    con.close()
    return path


def _newer(path: Path) -> Path:
    RunWriter(path, meta={"name": "newer", "schema_version": 7}).close()
    return path


@dataclass(frozen=True)
class RunCase:
    """A bad run on disk.

    ``level``: where the damage shows: ``open`` (the run cannot be opened), ``meta`` (its
    metadata cannot be read: listings say unreadable), ``data`` (a part of its data cannot be
    read: that part's reads and routes fail, the rest works).
    """

    name: str
    group: int
    make: Callable[[Path], Path]
    error: type[DeepscopeError]
    message: str
    level: str
    http: str = ""  #: a route (after /api/runs/{id}) that must answer error.http_status


RUNS = [
    RunCase("garbage database", 4, _bytes(b"not a database at all " * 200), CorruptRunError,
            "corrupt", "open"),
    RunCase("empty database file", 5, _bytes(b""), CorruptRunError, "corrupt", "open"),
    RunCase("truncated database", 4, _truncated, CorruptRunError, "corrupt", "open"),
    RunCase("tables without metadata", 5, _half_made, CorruptRunError, "schema version", "open"),
    RunCase("newer schema", 4, _newer, RunVersionError, "upgrade deepscope", "open"),
    RunCase("schema version not a number", 4,
            _damaged("UPDATE meta SET value = '\"abc\"' WHERE key = 'schema_version'"),
            CorruptRunError, "schema version", "open"),
    RunCase("metadata not JSON", 4,
            _damaged("UPDATE meta SET value = '{not json' WHERE key = 'config'"),
            CorruptRunError, "unreadable metadata", "open"),
    RunCase("start time not a number", 4,
            _damaged("UPDATE meta SET value = '\"yesterday\"' WHERE key = 'started_at'"),
            CorruptRunError, "unreadable metadata", "meta"),
    RunCase("scalar chunk of the wrong size", 1,
            _damaged("UPDATE scalar_chunks SET steps = x'0102' WHERE id = 1"),
            CorruptRunError, "scalar chunk", "data", "/scalars/series?tag=train/loss"),
    RunCase("scalar chunk columns disagree", 1,
            _damaged("UPDATE scalar_chunks SET walls = x'00000000000000000000000000000000'"
                     " WHERE id = 1"),
            CorruptRunError, "different lengths", "data", "/scalars/series?tag=train/loss"),
    RunCase("histogram blob of the wrong size", 4,
            _damaged("UPDATE histograms SET counts = x'010203'"),
            CorruptRunError, "histogram", "data", "/histograms?layer=fc1&kind=weight"),
    RunCase("statistic that is text", 1,
            _damaged("UPDATE stats SET norm = 'lots' WHERE kind = 'grad'"),
            CorruptRunError, "statistics", "data", "/stats?kind=grad&field=norm"),
    RunCase("layer parameters not JSON", 4,
            _damaged("UPDATE layers SET params = '[oops'"),
            CorruptRunError, "layer", "data", "/layers"),
    RunCase("graph not JSON", 4, _damaged("UPDATE graph SET data = '{'"),
            CorruptRunError, "graph", "data", "/graph"),
    RunCase("event not JSON", 1, _damaged("UPDATE events SET data = 'nan nan'"),
            CorruptRunError, "event", "data"),
]


@dataclass(frozen=True)
class CallCase:
    """A bad Python API call: ``call(runs_dir)`` must raise ``error`` with ``message``."""

    name: str
    group: int
    call: Callable[[Path], Any]
    error: type[DeepscopeError]
    message: str


def _with_run(fn: Callable[[Any], Any]) -> Callable[[Path], Any]:
    def call(root: Path) -> Any:
        import deepscope as ds

        run = ds.init(name="bad-call", dir=root)
        try:
            return fn(run)
        finally:
            run.finish()

    return call


def _a_file(root: Path) -> Any:
    import deepscope as ds

    (root / "file").write_text("x")
    return ds.init(dir=root / "file")


def _watch(**kwargs: Any) -> Callable[[Path], Any]:
    def fn(run: Any) -> Any:
        from torch import nn

        return run.watch(nn.Linear(2, 2), **kwargs)

    return _with_run(fn)


def _tensor(*shape: int) -> Any:
    import torch

    return torch.ones(*shape)


CALLS = [
    CallCase("log a tensor instead of a dict", 9, _with_run(lambda r: r.log(_tensor(2))),
             InvalidArgumentError, "takes a dict"),
    CallCase("log None", 9, _with_run(lambda r: r.log(None)), InvalidArgumentError,
             "takes a dict"),
    CallCase("log a list", 9, _with_run(lambda r: r.log([1.0])), InvalidArgumentError,
             "takes a dict"),
    CallCase("metric is a 2-element tensor", 9, _with_run(lambda r: r.log({"a": _tensor(2)})),
             InvalidArgumentError, "log one number"),
    CallCase("metric too large for a float", 9, _with_run(lambda r: r.log({"a": 10**400})),
             InvalidArgumentError, "too large"),
    CallCase("metric is a string", 9, _with_run(lambda r: r.log({"a": "abc"})),
             InvalidArgumentError, "not a number"),
    CallCase("metric is None", 9, _with_run(lambda r: r.log({"a": None})),
             InvalidArgumentError, "not a number"),
    CallCase("metric is a complex number", 9, _with_run(lambda r: r.log({"a": 1j})),
             InvalidArgumentError, "not a number"),
    CallCase("empty metric name", 9, _with_run(lambda r: r.log({"": 1.0})),
             InvalidArgumentError, "metric name"),
    CallCase("metric name with a newline", 9, _with_run(lambda r: r.log({"a\nb": 1.0})),
             InvalidArgumentError, "metric name"),
    CallCase("step is a string", 9, _with_run(lambda r: r.log({"a": 1.0}, step="abc")),
             InvalidArgumentError, "step must be an integer"),
    CallCase("step is fractional", 9, _with_run(lambda r: r.log({"a": 1.0}, step=1.5)),
             InvalidArgumentError, "step must be an integer"),
    CallCase("step is a bool", 9, _with_run(lambda r: r.log({"a": 1.0}, step=True)),
             InvalidArgumentError, "step must be an integer"),
    CallCase("step is 2**63", 9, _with_run(lambda r: r.log({"a": 1.0}, step=2**63)),
             InvalidArgumentError, "2**63"),
    CallCase("step is negative", 9, _with_run(lambda r: r.log({"a": 1.0}, step=-1)),
             InvalidArgumentError, "between 0"),
    CallCase("init under a file", 9, _a_file, InvalidArgumentError, "not a directory"),
    CallCase("config is a string", 9, lambda root: __import__("deepscope").init(
        dir=root, config="x"), InvalidArgumentError, "config must be a dict"),
    CallCase("name is a number", 9, lambda root: __import__("deepscope").init(
        dir=root, name=3), InvalidArgumentError, "name must be a string"),
    CallCase("watch with bins=-1", 9, _watch(bins=-1), InvalidArgumentError, "bins"),
    CallCase("watch with bins='64'", 9, _watch(bins="64"), InvalidArgumentError, "bins"),
    CallCase("watch with every=0", 9, _watch(every=0), InvalidArgumentError, "every"),
    CallCase("watch with every=2.5", 9, _watch(every=2.5), InvalidArgumentError, "every"),
    CallCase("watch with histogram_every=0", 11, _watch(histogram_every=0),
             InvalidArgumentError, "histogram_every"),
    CallCase("watch with a non-callable schedule", 9, _watch(schedule=3), InvalidArgumentError,
             "schedule"),
    CallCase("watch with an optimizer that is not one", 9, _watch(optimizer="adam"),
             InvalidArgumentError, "optimizer"),
    CallCase("finish with an unknown status", 9, _with_run(lambda r: r.finish("great")),
             InvalidArgumentError, "status"),
    CallCase("report to an unwritable path", 9,
             lambda root: __import__("deepscope").report(good_run(root / "ok"),
                                                         "/proc/deepscope/r.html"),
             InvalidArgumentError, "cannot write the report"),
    CallCase("open_run of a missing directory", 9,
             lambda root: __import__("deepscope").open_run(root / "missing"), RunNotFoundError,
             "not a deepscope run"),
    CallCase("diagnose a number", 9, lambda root: __import__("deepscope").diagnose(3),
             InvalidArgumentError, "run directory"),
    CallCase("import a garbage TensorBoard file", 9,
             lambda root: _import_tb(root, b"\x00garbage" * 100), InvalidArgumentError,
             "no readable TensorBoard events"),
]


def _import_tb(root: Path, data: bytes) -> Any:
    from deepscope.integrations.tensorboard_import import import_tensorboard

    logdir = root / "tb"
    logdir.mkdir()
    (logdir / "events.out.tfevents.1.host").write_bytes(data)
    return import_tensorboard(logdir, root / "imported")


@dataclass(frozen=True)
class CommandCase:
    """A bad CLI invocation: ``args(tmp)`` must exit 2 with one ``error:`` line holding
    ``message``.
    """

    name: str
    group: int
    args: Callable[[Path], list[str]]
    message: str


def _tb_garbage(tmp: Path) -> list[str]:
    (tmp / "tb").mkdir()
    (tmp / "tb" / "events.out.tfevents.1.host").write_bytes(b"\x00garbage" * 100)
    return ["import-tensorboard", str(tmp / "tb"), "--dir", str(tmp / "runs")]


COMMANDS = [
    CommandCase("report to an unwritable path", 9,
                lambda t: ["report", str(good_run(t / "ok")), "-o", "/proc/deepscope/r.html"],
                "cannot write the report"),
    CommandCase("report of a missing run", 9, lambda t: ["report", str(t / "nope")],
                "not a deepscope run"),
    CommandCase("diagnose with an unknown format", 9,
                lambda t: ["diagnose", str(good_run(t / "ok")), "--format", "yaml"], "--format"),
    CommandCase("diagnose with a bad --set", 9,
                lambda t: ["diagnose", str(good_run(t / "ok")), "--set", "nonsense"], "--set"),
    CommandCase("import-tensorboard of a garbage file", 9, _tb_garbage,
                "no readable TensorBoard events"),
    CommandCase("import-tensorboard of a missing directory", 9,
                lambda t: ["import-tensorboard", str(t / "missing")], "no such directory"),
    CommandCase("ls of a missing directory", 9, lambda t: ["ls", str(t / "missing")],
                "no such directory"),
    CommandCase("ls of a file", 9, lambda t: ["ls", str(_touch(t / "f"))], "directory"),
    CommandCase("ui with a one-character token on every interface", 8,
                lambda t: ["ui", str(t), "--host", "0.0.0.0", "--port", "0", "--token", "x"],
                "at least 16 characters"),
    CommandCase("ui on a port out of range", 8, lambda t: ["ui", str(t), "--port", "70000"],
                "out of range"),
    CommandCase("summary with a missing factory module", 9,
                lambda t: ["summary", "no_such_module_xyz:make"], "no_such_module_xyz"),
    CommandCase("explain with a missing factory module", 9,
                lambda t: ["explain", "predictions", "no_such_module_xyz:make", "--dir",
                           str(t)], "no_such_module_xyz"),
]


def _touch(path: Path) -> Path:
    path.write_text("x")
    return path


@dataclass(frozen=True)
class RequestCase:
    """A bad HTTP request against a root holding ``ok`` (a good run) and ``RUNS``' runs."""

    name: str
    group: int
    path: str
    status: int
    message: str = ""
    error: type[DeepscopeError] | None = None


REQUESTS = [
    RequestCase("run id of 300 characters", 8, "/api/runs/" + "a" * 300, 400, "invalid run id"),
    RequestCase("run id of 300 characters, a data route", 8,
                "/api/runs/" + "a" * 300 + "/scalars", 400, "invalid run id"),
    RequestCase("nested run id with a 256-character segment", 8,
                "/api/runs/team~" + "b" * 256 + "/layers", 400, "invalid run id"),
    RequestCase("unknown run", 8, "/api/runs/nope/layers", 404, "no run"),
    RequestCase("traversal", 8, "/api/runs/..~..~etc/layers", 400, "invalid run id"),
    RequestCase("database linked out of the root", 8, "/api/runs/linked/layers", 403,
                "outside", PathOutsideRootError),
    RequestCase("step bound beyond int64", 8,
                "/api/runs/ok/scalars/series?tag=train/loss&start=99999999999999999999", 400),
    RequestCase("max_points not a number", 8,
                "/api/runs/ok/scalars/series?tag=train/loss&max_points=x", 400),
    RequestCase("artifact id beyond int64", 8, "/api/runs/ok/artifacts/99999999999999999999", 400),
    RequestCase("artifact that does not exist", 8, "/api/runs/ok/artifacts/7", 404),
    RequestCase("blob key with a slash", 8, "/api/runs/ok/artifacts/1/blobs/a%2Fb", 404),
    RequestCase("layer name with a control character", 8,
                "/api/runs/ok/stats/series?layer=a%01b&kind=grad", 400),
    RequestCase("unknown statistic kind", 8, "/api/runs/ok/stats?kind=x&field=norm", 400),
    RequestCase("fields list of commas only", 8,
                "/api/runs/ok/stats/series?layer=fc1&kind=grad&fields=,,", 400),
    RequestCase("unknown API route", 8, "/api/nothing", 404, "no API route"),
]
