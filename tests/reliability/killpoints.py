"""A process that forks one short training per kill point and ends it at that point.

Run as ``python killpoints.py``; it imports torch and deepscope once, then reads one JSON point
per line from stdin and answers one JSON line per point on stdout::

    {"id": 3, "root": "/tmp/x/3", "phase": "flush", "counter": "sql", "k": 7, "mode": "sigkill"}
    -> {"id": 3, "signal": 9, "exit_code": null}

A point names a phase of a run's life (``init``: ``ds.init``; ``train``: ``watch``, training
steps and ``log``; ``flush``: ``run.flush()``; ``finish``: ``run.finish()``), an event counter
(``line``: lines of deepscope code run by the training thread; ``sql``: SQL statements run by
any deepscope connection, the writer thread's included) and the k-th event of that counter in
that phase, where the child does ``mode``: ``sigkill``, ``sigterm`` (sent to itself),
``exception`` (raised right there) or ``exit`` (``sys.exit(1)`` right there). A point whose k is
not reached lets the run end normally. ``mode: "count"`` reports the events per phase instead.

The child writes what the run has promised so far to ``<root>/progress``: ``logged N`` after
``run.log`` returned for step N, ``flushed N`` after ``run.flush()`` returned, ``finished``,
and ``acting MODE`` when the point strikes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time

import torch
from torch import nn

import deepscope as ds
import deepscope.run  # noqa: F401 - imported before forking, like a real training script

torch.set_num_threads(1)


def _warm_up() -> None:
    """Import what the first training step imports lazily (torch._dynamo: seconds), once."""
    import torch._dynamo  # noqa: F401

    import deepscope.capture.watcher  # noqa: F401
    import deepscope.store.sqlite  # noqa: F401

    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(3, 2)).sum().backward()
    opt.step()


_warm_up()
STEPS = 10
FLUSH_AT = (3, 6)
_state = {"phase": "", "counts": {}, "point": None}


class KillPoint(RuntimeError):
    """The exception a point of mode ``exception`` raises."""


def _act(mode: str) -> None:
    _progress(_state["root"], f"acting {mode}")
    if mode == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "sigterm":
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # let the handler run (it ends the process)
    elif mode == "exception":
        raise KillPoint(f"kill point in {_state['phase']}")
    elif mode == "exit":
        sys.exit(1)


def _tick(counter: str) -> None:
    phase = _state["phase"]
    key = f"{phase}:{counter}"
    counts = _state["counts"]
    counts[key] = counts.get(key, 0) + 1
    point = _state["point"]
    if point and point["phase"] == phase and point["counter"] == counter \
            and counts[key] == point["k"] and point["mode"] != "count":
        _state["point"] = None
        _act(point["mode"])


def _tracer(frame, event, arg):  # noqa: ANN001, ANN202 - sys.settrace protocol
    if "/deepscope/" not in frame.f_code.co_filename:
        return None

    def local(frame, event, arg):  # noqa: ANN001, ANN202
        if event == "line":
            _tick("line")
        return local

    return local


def _instrument() -> None:
    real_connect = sqlite3.connect

    def connect(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        con = real_connect(*args, **kwargs)
        con.set_trace_callback(lambda _sql: _tick("sql"))
        return con

    sqlite3.connect = connect  # type: ignore[assignment]
    sys.settrace(_tracer)


def _progress(root: str, line: str) -> None:
    with open(os.path.join(root, "progress"), "a") as f:
        f.write(line + "\n")


def scenario(point: dict) -> None:
    root = point["root"]
    os.makedirs(root, exist_ok=True)
    _state["root"] = root
    _state["point"] = point
    _instrument()
    torch.manual_seed(point["id"])
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    _state["phase"] = "init"
    run = ds.init(name="kill", dir=os.path.join(root, "runs"), config={"point": point["id"]})
    _state["phase"] = "train"
    run.watch(model, optimizer=opt, every=2, log_graph=False, diagnose=False)
    for step in range(STEPS):
        opt.zero_grad()
        loss = model(torch.randn(16, 4)).pow(2).mean()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
        _progress(root, f"logged {step}")
        if step in FLUSH_AT:
            _state["phase"] = "flush"
            run.flush()
            _progress(root, f"flushed {step}")
            _state["phase"] = "train"
    _state["phase"] = "finish"
    run.finish()
    _state["phase"] = "done"
    _progress(root, "finished")
    if point["mode"] == "count":
        sys.settrace(None)
        _progress(root, "counts " + json.dumps(_state["counts"]))


def _child(point: dict) -> None:
    """The end of a training script as the interpreter does it: an uncaught exception goes to
    ``sys.excepthook``, then atexit runs, then the process exits with the status. (Tearing
    down torch's modules would add ~2 s per point, so the last step is ``os._exit``.)
    """
    import atexit

    code = 0
    try:
        scenario(point)
    except SystemExit as err:
        code = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
    except BaseException as err:  # noqa: BLE001 - reported like an uncaught exception
        sys.excepthook(type(err), err, err.__traceback__)
        code = 1
    sys.settrace(None)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    return os.waitpid(pid, 0)[1]


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        point = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _child(point)
        status = _wait(pid, timeout=60.0)
        out = {"id": point["id"],
               "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
               "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
