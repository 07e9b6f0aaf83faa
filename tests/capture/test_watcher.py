"""Instrumentation is invisible (bit for bit), complete, and always removes its hooks."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.capture.schedule import Every
from deepscope.capture.watcher import Watcher
from deepscope.errors import NonFiniteError
from deepscope.store.schema import ROOT_LAYER, STAT_FIELDS
from models import ZOO, logits_of

F = {name: i for i, name in enumerate(STAT_FIELDS)}


def _targets(batch: object) -> torch.Tensor:
    n = (batch["x"] if isinstance(batch, dict) else batch).shape[0]  # type: ignore[index]
    return torch.arange(n) % 10


def _train(model: nn.Module, batch: object, steps: int, run: ds.Run | None = None) -> list[float]:
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if run is not None:
        run.watch(model, optimizer=opt, every=2)
    losses = []
    y = _targets(batch)
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits_of(model(batch)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        with torch.no_grad():
            model(batch)  # an evaluation pass: not a training step
    return losses


def _hooks_left(model: nn.Module) -> int:
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        n += len(getattr(m, "_backward_pre_hooks", {}))
    return n


@pytest.mark.parametrize("name", sorted(ZOO))
def test_watch_is_bit_identical_and_leaves_no_hooks(name: str, runs_dir) -> None:
    torch.manual_seed(0)
    model, batch = ZOO[name]()
    twin = copy.deepcopy(model)
    torch.manual_seed(1)
    plain = _train(model, batch, 5)
    torch.manual_seed(1)
    run = ds.init(name=name, dir=runs_dir)
    watched = _train(twin, batch, 5, run)
    run.finish()
    assert plain == watched
    for (k, a), (_, b) in zip(model.state_dict().items(), twin.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    assert _hooks_left(twin) == 0
    reader = ds.open_run(run.path)
    assert set(reader.stat_kinds()) >= {"weight", "grad", "update", "activation", "input"}
    # 5 training forwards (steps 0..4); the no_grad evaluation passes are not counted.
    assert reader.stat_steps("activation").tolist() == [0, 1, 2, 4]


@pytest.mark.parametrize("name", sorted(ZOO))
def test_hooks_removed_when_forward_raises(name: str) -> None:
    model, batch = ZOO[name]()
    target = [m for m in model.modules() if next(iter(m.children()), None) is None][-1]

    def boom(*_: object) -> None:
        raise RuntimeError("boom")

    h = target.register_forward_hook(boom)
    with pytest.raises(RuntimeError, match="boom"):
        with Watcher(model, sink=lambda *a: None, schedule=Every(1)):
            model(batch)
    h.remove()
    assert _hooks_left(model) == 0


def test_gradient_accumulation_records_accumulated_grads(runs_dir) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=100)
    xs = [torch.randn(5, 8) for _ in range(4)]
    opt.zero_grad()
    for x in xs:
        model(x).pow(2).mean().backward()
    expected = torch.cat([model[0].weight.grad.reshape(-1), model[0].bias.grad]).norm().item()
    opt.step()
    run.finish()
    r = ds.open_run(run.path)
    g = r.stat_series("0", "grad")
    # Four micro-batches, one optimizer step = one step: the gradient seen is the accumulated one.
    assert g.steps.tolist() == [0]
    assert g["norm"][0] == pytest.approx(expected, rel=1e-5)
    u = r.stat_series("0", "update")
    assert u["norm"][0] == pytest.approx(0.1 * expected, rel=1e-4)


def test_shared_module_merges_calls_and_rnn_uses_sequence(runs_dir) -> None:
    model, batch = ZOO["shared"]()
    run = ds.init(dir=runs_dir)
    run.watch(model)
    model(batch).sum().backward()
    run.finish()
    r = ds.open_run(run.path)
    act = r.stat_series("shared", "activation")
    assert act["count"][0] == 2 * 16 * 16  # called twice per forward
    assert r.stat_series("act", "activation")["saturated_frac"][0] >= 0
    model, batch = ZOO["lstm"]()
    run = ds.init(dir=runs_dir)
    run.watch(model)
    model(batch).sum().backward()
    run.finish()
    r = ds.open_run(run.path)
    assert r.stat_series("lstm", "activation")["count"][0] == 16 * 6 * 16
    assert r.stat_series("lstm", "grad")["count"][0] == sum(
        p.numel() for p in model.lstm.parameters()
    )


def test_without_optimizer_grads_and_steps_count_forwards(runs_dir) -> None:
    model, batch = ZOO["dict"]()
    run = ds.init(dir=runs_dir)
    run.watch(model, every=3)
    for _ in range(7):
        out = model(batch)
        (out["logits"].sum() + out["score"].sum()).backward()
    run.log({"train/loss": 1.0})
    run.finish()
    r = ds.open_run(run.path)
    assert r.stat_steps("grad").tolist() == [0, 1, 2, 3, 6]
    assert r.scalars("train/loss").steps.tolist() == [6]
    assert r.stat_series(ROOT_LAYER, "activation")["count"][0] == 16 * 10
    assert "update" not in r.stat_kinds()


def test_eval_mode_with_grad_counts_and_activation_grads(runs_dir) -> None:
    model, batch = ZOO["mlp"]()
    model.eval()
    run = ds.init(dir=runs_dir)
    run.watch(model, activation_grads=True)
    model(batch).sum().backward()
    run.finish()
    r = ds.open_run(run.path)
    assert "activation_grad" in r.stat_kinds()
    assert r.stat_series("head", "activation_grad")["norm"][0] == pytest.approx(
        160**0.5
    )  # d sum/d out = 1


def test_missing_gradients_and_parameters_outside_optimizer(runs_dir) -> None:
    class Detached(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)
            self.head = nn.Linear(4, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.a(x) + self.b(x).detach())

    model = Detached()
    opt = torch.optim.Adam([p for n, p in model.named_parameters() if not n.startswith("a.")])
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(8, 4)).sum().backward()
        opt.step()
    run.finish()
    r = ds.open_run(run.path)
    assert r.stat_series("b", "grad")["count"].tolist() == [0, 0, 0]
    layers = {info.name: info for info in r.layers()}
    assert [p["in_optimizer"] for p in layers["a"].params] == [False, False]
    assert [p["in_optimizer"] for p in layers["b"].params] == [True, True]
    assert {info.name for info in r.layers()} >= {"a", "b", "head"}
    with pytest.raises(ds.DeepscopeError):
        r.stat_series("a", "update")


class NaNAt(nn.Module):
    """Produces NaN from its output on a chosen training step."""

    def __init__(self, at: int):
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            self.calls += 1
        return x * float("nan") if self.calls == self.at + 1 else x


def _nan_model(at: int) -> nn.Module:
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), NaNAt(at), nn.Linear(8, 2))


def test_nonfinite_between_sampled_steps_names_first_module(runs_dir) -> None:
    torch.manual_seed(0)
    model = _nan_model(at=7)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=10, on_nonfinite="warn")
    for _ in range(9):
        opt.zero_grad()
        model(torch.randn(8, 4)).sum().backward()
        opt.step()
    run.finish()
    (ev,) = ds.open_run(run.path).events("nonfinite")
    assert ev.step == 7 and ev.layer == "3"
    assert ev.data["modules"][:2] == ["3", "4"]
    assert ev.data["source"] == "activation"


def test_on_nonfinite_raise_stops_training_and_keeps_event(runs_dir) -> None:
    model = _nan_model(at=2)
    run = ds.init(dir=runs_dir)
    run.watch(model, on_nonfinite="raise")
    with pytest.raises(NonFiniteError, match="3"):
        for _ in range(5):
            model(torch.randn(8, 4)).sum().backward()
    run.finish()
    assert ds.open_run(run.path).events("nonfinite")[0].step == 2


def test_nan_in_input_data_is_reported_as_input(runs_dir) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    run = ds.init(dir=runs_dir)
    run.watch(model)
    x = torch.randn(8, 4)
    x[2, 1] = float("nan")
    model(x).sum().backward()
    run.finish()
    (ev,) = ds.open_run(run.path).events("nonfinite")
    assert ev.data["source"] == "input" and ev.layer == "0"


def test_stats_match_a_plain_reference(runs_dir) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    x = torch.randn(32, 6)
    run = ds.init(dir=runs_dir)
    run.watch(model)
    model(x).sum().backward()
    run.finish()
    r = ds.open_run(run.path)
    h = torch.relu(model[0](x)).detach()
    act = r.stat_series("1", "activation")
    assert act["mean"][0] == pytest.approx(h.mean().item(), rel=1e-5)
    assert act["std"][0] == pytest.approx(h.std().item(), rel=1e-4)
    assert act["dead_frac"][0] == pytest.approx(((h > 0).sum(0) == 0).float().mean().item())
    w = torch.cat([model[2].weight.reshape(-1), model[2].bias])
    assert r.stat_series("2", "weight")["norm"][0] == pytest.approx(w.norm().item(), rel=1e-5)
    hist = r.histograms("1", "activation")
    assert hist.counts.sum() == h.numel() and hist.counts.shape == (1, 64)
    assert np.isclose(hist.lo[0], h.min().item()) and np.isclose(hist.hi[0], h.max().item())


@pytest.mark.parametrize(("kwargs", "hist_steps"), [
    ({}, [0, 1, 2, 50, 100]),  # the default: histograms at every 5th sampled step
    ({"histograms": True}, [0, 1, 2, *range(10, 120, 10)]),  # asked for: at every sampled step
    ({"histogram_every": 2}, [0, 1, 2, *range(20, 120, 20)]),
    ({"schedule": lambda s: s % 30 == 0, "histogram_every": 2}, [0, 60]),
])
def test_histograms_are_thinned_but_statistics_are_not(runs_dir, kwargs, hist_steps) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, **kwargs)
    for _ in range(120):
        opt.zero_grad()
        model(torch.randn(8, 6)).sum().backward()
        opt.step()
    run.finish()
    r = ds.open_run(run.path)
    stat_steps = r.stat_series("2", "weight").steps.tolist()
    assert r.histograms("2", "weight").steps.tolist() == hist_steps
    assert set(hist_steps) <= set(stat_steps)
    assert (len(stat_steps) > len(hist_steps)) == ("histograms" not in kwargs)
    assert r.meta().watches[""]["histogram_every"] == kwargs.get(
        "histogram_every", 1 if "histograms" in kwargs else 5)
