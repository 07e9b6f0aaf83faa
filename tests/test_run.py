"""The Run lifecycle: steps, metadata, status on success, error and crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.errors import InvalidArgumentError


def test_log_without_watch_counts_calls_and_keeps_config(runs_dir) -> None:
    run = ds.init(name="plain run/1", dir=runs_dir, config={"lr": 1e-3, "layers": [1, 2]})
    for i in range(5):
        run.log({"loss": 1.0 / (i + 1)})
    run.log({"val/loss": 0.3}, step=10)
    run.finish()
    run.finish()  # idempotent
    r = ds.open_run(run.path)
    m = r.meta()
    assert run.path.parent == runs_dir and run.path.name.startswith("plain-run-1-")
    assert (m.name, m.status, m.config["lr"], m.config["layers"]) == (
        "plain run/1",
        "finished",
        1e-3,
        "[1, 2]",
    )
    assert m.torch_version == torch.__version__ and m.ended_at >= m.started_at
    assert r.scalars("loss").steps.tolist() == [0, 1, 2, 3, 4]
    assert r.scalars("val/loss").steps.tolist() == [10]


def test_context_manager_marks_crash_with_error(runs_dir) -> None:
    with pytest.raises(ZeroDivisionError):
        with ds.init(dir=runs_dir) as run:
            run.log({"loss": 1.0})
            1 / 0  # noqa: B018
    m = ds.open_run(run.path).meta()
    assert m.status == "crashed" and "ZeroDivisionError" in m.error


def test_uncaught_exception_and_forgotten_finish(runs_dir) -> None:
    code = textwrap.dedent(
        f"""
        import deepscope as ds
        run = ds.init(name="a", dir={str(runs_dir)!r}); run.log({{"loss": 1.0}})
        run2 = ds.init(name="b", dir={str(runs_dir)!r}); run2.log({{"loss": 2.0}})
        raise SystemExit(0) if __import__("sys").argv[1] == "ok" else RuntimeError("bad")
        """
    )
    subprocess.run([sys.executable, "-c", code, "ok"], check=True, timeout=120)
    statuses = sorted(ds.open_run(p).meta().status for p in runs_dir.iterdir())
    assert statuses == ["finished", "finished"]
    for p in runs_dir.iterdir():
        assert ds.open_run(p).scalars("loss").values.size == 1
    subprocess.run([sys.executable, "-c", code, "crash"], timeout=120, capture_output=True)
    statuses = sorted(ds.open_run(p).meta().status for p in runs_dir.iterdir())
    assert statuses.count("crashed") == 2


def test_a_run_the_script_dropped_is_still_finished_at_exit(runs_dir) -> None:
    code = textwrap.dedent(
        f"""
        import gc, sys, torch, deepscope as ds
        def train():
            model = torch.nn.Sequential(torch.nn.Linear(3, 2))
            ds.init(name="dropped", dir={str(runs_dir)!r}).watch(model)
            for _ in range(5):
                model(torch.randn(4, 3)).sum().backward()
            sys.exit(3)
        try:
            train()
        finally:
            gc.collect()  # nothing the script holds keeps the run alive
        """
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=120, capture_output=True)
    assert done.returncode == 3, done.stderr
    [path] = runs_dir.iterdir()
    m = ds.open_run(path).meta()
    assert (m.status, m.exit_code, m.error) == ("crashed", 3, "exited with status 3")
    assert ds.open_run(path).stat_series("0", "weight").steps.size > 0


def test_bad_arguments(runs_dir) -> None:
    run = ds.init(dir=runs_dir)
    with pytest.raises(InvalidArgumentError, match="not a number"):
        run.log({"loss": "abc"})
    with pytest.raises(InvalidArgumentError, match="nn.Module"):
        run.watch("not a model")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="preset"):
        run.watch(nn.Linear(2, 2), preset="turbo")
    with pytest.raises(InvalidArgumentError, match="every"):
        run.watch(nn.Linear(2, 2), every=0)
    with pytest.raises(InvalidArgumentError, match="to_artifact"):
        run.log_artifact(object())
    run.finish()


def test_log_artifact_and_unwatch(runs_dir) -> None:
    class Result:
        def to_artifact(self):
            return "predictions", {"accuracy": 0.9}, {"cm.png": ("image/png", b"\x89PNG")}

    model = nn.Sequential(nn.Linear(3, 3))
    run = ds.init(dir=runs_dir)
    run.watch(model)
    model(torch.randn(2, 3)).sum().backward()
    run.unwatch()
    assert not model._forward_hooks and not model._forward_pre_hooks
    run.log_artifact(Result(), name="val predictions")
    run.finish()
    (info,) = ds.open_run(run.path).artifacts("predictions")
    assert info.name == "val predictions" and info.blob_keys == ("cm.png",)


def test_loss_nan_is_an_event(runs_dir) -> None:
    run = ds.init(dir=runs_dir)
    run.log({"train/loss": 1.0})
    run.log({"train/loss": float("nan")})
    run.finish()
    (ev,) = ds.open_run(run.path).events("nonfinite")
    assert ev.data["source"] == "loss" and ev.step == 1


def test_graph_recorded_for_keyword_only_forward(runs_dir) -> None:
    class KwModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Linear(4, 8)
            self.out = nn.Linear(8, 2)

        def forward(self, *, features: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
            h = self.emb(features)
            return self.out(torch.relu(h) + h) * scale

    model = KwModel()
    run = ds.init(dir=runs_dir)
    run.watch(model)
    for _ in range(2):
        model(features=torch.randn(3, 4), scale=2.0).sum().backward()
    run.finish()
    graph = ds.open_run(run.path).graph()
    assert graph is not None and graph["tracer"] != "module_tree", graph["notes"]
    names = {n["name"] for n in graph["nodes"]}
    assert {"emb", "out"} <= names and any(n["kind"] == "op" for n in graph["nodes"])
    assert graph["totals"]["params"] == sum(p.numel() for p in model.parameters())
