"""Capture on training code as people write it: several models, wrappers, AMP, odd outputs."""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

import deepscope as ds
from compiled_training import train_compiled
from deepscope.capture.wrappers import real_optimizer
from deepscope.errors import InvalidArgumentError
from deepscope.store.schema import ROOT_LAYER, STAT_FIELDS

F = {name: i for i, name in enumerate(STAT_FIELDS)}


def _mlp(i: int = 8, h: int = 16, o: int = 4) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, h), nn.ReLU(), nn.Linear(h, o))


def test_gan_two_named_watches_count_optimizer_steps(runs_dir) -> None:
    torch.manual_seed(0)
    g, d = _mlp(4, 16, 8), _mlp(8, 16, 1)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3)
    run = ds.init(dir=runs_dir)
    run.watch(g, optimizer=opt_g, name="G", every=5)
    run.watch(d, optimizer=opt_d, name="D", every=5)
    bce = nn.BCEWithLogitsLoss()
    for _ in range(12):
        real, z = torch.randn(16, 8), torch.randn(16, 4)
        fake = g(z)
        opt_d.zero_grad()
        d_loss = bce(d(real), torch.ones(16, 1)) + bce(d(fake.detach()), torch.zeros(16, 1))
        d_loss.backward()
        opt_d.step()
        opt_g.zero_grad()
        g_loss = bce(d(fake), torch.ones(16, 1))  # the discriminator's third call
        g_loss.backward()
        opt_g.step()
        run.log({"G/loss": g_loss.item(), "D/loss": d_loss.item()})
    run.finish()
    r = ds.open_run(run.path)
    names = {info.name for info in r.layers()}
    assert {"G.0", "G.2", "D.0", "D.2", "G", "D"} <= names
    assert not any(n.startswith(("module.", "_orig_mod")) for n in names)
    # 12 iterations = 12 optimizer steps of each model, whatever the number of D calls.
    assert r.stat_series("D.0", "grad").steps.tolist() == [0, 1, 2, 5, 10]
    assert r.stat_series("G.0", "update").steps.tolist() == [0, 1, 2, 5, 10]
    assert r.scalars("D/loss").steps.tolist() == list(range(12))
    graph = r.graph()
    assert {"G", "D", "G.0", "D.2"} <= {n["id"] for n in graph["nodes"]}
    assert not [e for e in r.events() if e.kind in ("grads_not_zeroed", "nonfinite")]


def test_training_step_that_calls_a_submodule_is_captured(runs_dir) -> None:
    """A LightningModule-like wrapper whose training code calls ``self.net(x)``."""

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # never called in training
            return self.net(x)

    torch.manual_seed(0)
    model = Wrapper()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=2)
    for _ in range(5):
        opt.zero_grad()
        model.net(torch.randn(8, 8)).pow(2).mean().backward()
        opt.step()
    run.finish()
    r = ds.open_run(run.path)
    assert r.stat_series("net.1", "activation").steps.tolist() == [0, 1, 2, 4]
    assert r.stat_series(ROOT_LAYER, "input")["count"][0] == 64
    assert r.stat_series("net.0", "grad").steps.tolist() == r.stat_series(
        "net.0", "update"
    ).steps.tolist()
    assert not [f for f in r.findings() if f["code"] == "nothing_captured"]
    assert {"net", "net.0"} <= {n["id"] for n in r.graph()["nodes"]}


def test_closure_step_records_grads_and_updates_at_the_same_step(runs_dir) -> None:
    torch.manual_seed(0)
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=1)
    x = torch.randn(8, 8)
    expected = []
    for _ in range(3):

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = model(x).pow(2).mean()
            loss.backward()
            expected.append(torch.cat([model[0].weight.grad.reshape(-1), model[0].bias.grad]))
            return loss

        opt.step(closure)
    run.finish()
    r = ds.open_run(run.path)
    g, u = r.stat_series("0", "grad"), r.stat_series("0", "update")
    assert g.steps.tolist() == u.steps.tolist() == [0, 1, 2]
    for k in range(3):
        assert g["norm"][k] == pytest.approx(expected[k].norm().item(), rel=1e-5)
        assert u["norm"][k] == pytest.approx(0.1 * expected[k].norm().item(), rel=1e-4)


def test_optimizer_found_without_being_passed(runs_dir) -> None:
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir)
    run.watch(model, every=1)  # no optimizer=: it is found
    for _ in range(4):
        for _ in range(2):  # gradient accumulation: one step per optimizer step
            model(torch.randn(4, 8)).sum().backward()
        opt.step()
        opt.zero_grad()
    run.finish()
    r = ds.open_run(run.path)
    assert r.stat_series("0", "update").steps.tolist() == [0, 1, 2, 3]
    assert r.meta().watches[""]["optimizer"] == "SGD"


def test_optimizer_made_after_watch_is_adopted_at_its_first_step(runs_dir) -> None:
    model = _mlp()
    run = ds.init(dir=runs_dir)
    run.watch(model, every=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 8)).sum().backward()
        opt.step()
    run.finish()
    r = ds.open_run(run.path)
    assert r.stat_series("0", "update").steps.tolist() == [0, 1, 2]
    assert r.stat_series("0", "grad").steps.tolist() == [0, 1, 2]


def test_wrapped_optimizer_is_unwrapped() -> None:
    inner = torch.optim.SGD([nn.Parameter(torch.zeros(2))], lr=0.1)

    class Wrapping(torch.optim.Optimizer):  # shaped like accelerate's AcceleratedOptimizer
        def __init__(self, optimizer: torch.optim.Optimizer) -> None:
            self.optimizer = optimizer

    class Holding:  # shaped like Lightning's LightningOptimizer
        def __init__(self, optimizer: object) -> None:
            self._optimizer = optimizer

    assert real_optimizer(Holding(Wrapping(inner))) is inner
    with pytest.raises(InvalidArgumentError, match="torch.optim.Optimizer"):
        real_optimizer(object())


def test_amp_grad_scaler_records_unscaled_grads_and_skips_are_not_nonfinite(runs_dir) -> None:
    torch.manual_seed(0)
    model = _mlp()
    twin = _mlp()
    twin.load_state_dict(model.state_dict())
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    # A first scale that overflows: the first step is skipped, as fp16 training often does.
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**127, backoff_factor=2.0**-120)
    run = ds.init(dir=runs_dir)
    run.watch(model, every=1, on_nonfinite="raise")  # no optimizer= and no scaler=
    xs = [torch.randn(8, 8) for _ in range(4)]
    for x in xs:
        opt.zero_grad()
        scaler.scale(model(x).pow(2).sum()).backward()
        scaler.step(opt)
        scaler.update()
    run.finish()
    r = ds.open_run(run.path)
    assert not r.events("nonfinite")
    assert r.events("optimizer_step_skipped")
    g = r.stat_series("0", "grad")
    # The skipped iteration does not count as a step: 3 optimizer steps happened.
    assert g.steps.tolist() == [0, 1, 2]
    twin(xs[1]).pow(2).sum().backward()  # step 0's gradient, as the optimizer saw it
    ref = torch.cat([twin[0].weight.grad.reshape(-1), twin[0].bias.grad]).norm().item()
    assert g["norm"][0] == pytest.approx(ref, rel=1e-4)


def test_forgotten_zero_grad_is_an_event_and_accumulation_is_not(runs_dir) -> None:
    def train(zero: str) -> list:
        torch.manual_seed(0)
        model = _mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        run = ds.init(dir=runs_dir)
        run.watch(model, optimizer=opt, every=1)
        for _ in range(4):
            if zero == "none":
                opt.zero_grad(set_to_none=False)
            for _ in range(3 if zero == "accumulate" else 1):
                model(torch.randn(4, 8)).sum().backward()
            opt.step()
            if zero == "accumulate":
                opt.zero_grad()
        run.finish()
        return ds.open_run(run.path).events("grads_not_zeroed")

    assert train("none") == [] and train("accumulate") == []
    (first, *_) = events = train("forgotten")
    assert [e.step for e in events] == [1, 2, 3]
    assert first.data["layers"] == ["0", "2"] and first.data["layers_checked"] == 2
    assert first.data["grad_norm"] > first.data["carried_norm"] > 0


def test_eval_mode_training_and_probability_outputs_are_events(runs_dir) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.2), nn.ReLU(), nn.Linear(16, 4),
                          nn.Softmax(dim=-1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=1)
    model.eval()  # left on after an evaluation
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(model(torch.randn(8, 8)), torch.zeros(8).long()).backward()
        opt.step()
    model(torch.randn(8, 8))  # a forward with gradients and no step: not training
    run.finish()
    r = ds.open_run(run.path)
    modes = r.events("eval_mode")
    assert [e.step for e in modes] == [0, 1]
    assert modes[0].data["root_eval"] and modes[0].data["dropout_eval"] == 1
    probs = r.events("probability_outputs")
    assert [e.step for e in probs] == [0, 1] and probs[0].data["width"] == 4


def test_outputs_dataclass_and_model_output_use_logits(runs_dir) -> None:
    @dataclasses.dataclass
    class Out:
        loss: torch.Tensor
        logits: torch.Tensor

    class HFLike(OrderedDict):  # transformers' ModelOutput is an OrderedDict with the loss first
        def __getattr__(self, name: str) -> object:
            return self[name]

    class Model(nn.Module):
        def __init__(self, kind: str) -> None:
            super().__init__()
            self.net, self.kind = _mlp(), kind

        def forward(self, x: torch.Tensor, num_items_in_batch: torch.Tensor) -> object:
            logits = self.net(x) * float("nan") if x.sum() > 1e6 else self.net(x)
            loss = logits.pow(2).sum() / num_items_in_batch
            if self.kind == "dataclass":
                return Out(loss, logits)
            return HFLike(loss=loss, logits=logits)

    for kind in ("dataclass", "hf"):
        model = Model(kind)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        run = ds.init(dir=runs_dir)
        run.watch(model, optimizer=opt, every=1)
        for i in range(3):
            opt.zero_grad()
            x = torch.randn(8, 8) + (1e7 if i == 2 else 0)
            model(x, num_items_in_batch=torch.tensor(512.0)).loss.backward()
            opt.step()
        run.finish()
        r = ds.open_run(run.path)
        assert r.stat_series(ROOT_LAYER, "activation")["count"][0] == 8 * 4
        # num_items_in_batch reaches no layer: only x is a model input.
        assert r.stat_series(ROOT_LAYER, "input")["count"].tolist() == [64, 64, 64]
        (ev,) = r.events("nonfinite")
        assert ev.step == 2 and ev.layer == ROOT_LAYER  # made by the model's own multiply
        assert "output" in {n["kind"] for n in r.graph()["nodes"]}


def test_nothing_captured_is_an_error_not_a_clean_bill(runs_dir) -> None:
    watched, trained = _mlp(), _mlp()
    opt = torch.optim.SGD(trained.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir)
    run.watch(watched)
    for step in range(60):
        opt.zero_grad()
        loss = trained(torch.randn(4, 8)).pow(2).mean()
        loss.backward()
        opt.step()
        run.log({"train/loss": loss.item()}, step=step)
    run.finish()
    result = ds.diagnose(run.path)
    (f,) = [f for f in result.findings if f.code == "nothing_captured"]
    assert f.severity == "error" and not result.ok
    assert "no forward of the watched model ran" in f.message


def test_nothing_captured_says_when_forwards_ran_without_grad(runs_dir) -> None:
    model = _mlp()
    run = ds.init(dir=runs_dir)
    run.watch(model)
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(2, 8))
    run.finish()
    (f,) = [f for f in ds.diagnose(run.path).findings if f.code == "nothing_captured"]
    assert "without gradients" in f.message


def test_compiled_model_trains_with_no_extra_graphs_or_breaks(runs_dir) -> None:
    def count(watch: bool) -> tuple[int, dict[str, int], Path | None]:
        return train_compiled(_mlp, lambda cm: cm(torch.randn(4, 8)).sum(), runs_dir, watch)

    plain, watched = count(False), count(True)
    assert watched[:2] == plain[:2]
    assert watched[2] is not None
    r = ds.open_run(watched[2])
    names = [info.name for info in r.layers()]
    assert {"weight", "grad", "update"} <= set(r.stat_kinds())
    assert names and not any("_orig_mod" in n for n in names)


def test_watch_name_is_validated(runs_dir) -> None:
    run = ds.init(dir=runs_dir)
    with pytest.raises(InvalidArgumentError, match="identifier"):
        run.watch(_mlp(), name="a b/c")
    run.finish()


def test_statistics_are_taken_before_in_place_changes(runs_dir) -> None:
    """An in-place ReLU after a Linear, optimizer.step() and zero_grad(set_to_none=False) all
    rewrite tensors a sampled step has already seen."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(inplace=True), nn.Linear(16, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=1)
    x = torch.randn(32, 8)
    with torch.no_grad():
        pre = model[0](x)
    w_before = torch.cat([model[2].weight.reshape(-1), model[2].bias]).detach().clone()
    opt.zero_grad(set_to_none=False)
    model(x).sum().backward()
    grad = torch.cat([model[2].weight.grad.reshape(-1), model[2].bias.grad]).clone()
    opt.step()
    opt.zero_grad(set_to_none=False)
    run.finish()
    r = ds.open_run(run.path)
    act = r.stat_series("0", "activation")
    assert act["min"][0] == pytest.approx(pre.min().item(), rel=1e-6) and act["min"][0] < 0
    assert r.stat_series("2", "weight")["norm"][0] == pytest.approx(w_before.norm().item(), 1e-6)
    assert r.stat_series("2", "grad")["norm"][0] == pytest.approx(grad.norm().item(), rel=1e-6)


def test_entry_is_fixed_after_a_few_forwards_without_an_optimizer(runs_dir) -> None:
    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = _mlp()

    model = Holder()
    run = ds.init(dir=runs_dir)
    run.watch(model, every=2)
    for _ in range(6):
        model.net(torch.randn(4, 8)).sum().backward()
        model.zero_grad()
    run.finish()
    r = ds.open_run(run.path)
    assert r.stat_series("net.0", "activation").steps.tolist() == [0, 1, 2, 4]
    assert r.stat_series("net.0", "grad").steps.tolist() == [0, 1, 2, 4]
    assert not model.net[0]._forward_pre_hooks and not model._forward_pre_hooks


def test_a_stray_submodule_call_does_not_move_the_entry(runs_dir) -> None:
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=1)
    model[0](torch.randn(2, 8)).sum()  # a debugging call: recorded as step 0's forward
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 8)).sum().backward()
        opt.step()
    run.finish()
    r = ds.open_run(run.path)
    assert r.stat_series("2", "activation").steps.tolist() == [1, 2]  # the root's forwards
    assert r.stat_series(ROOT_LAYER, "input")["count"].tolist() == [16, 32, 32]


def test_staged_steps_are_written_once_their_copy_lands(runs_dir, monkeypatch) -> None:
    """On an accelerator a sampled step's copy runs while training goes on (forced here)."""
    from deepscope.capture.stats import StepStats

    monkeypatch.setattr(StepStats, "on_accelerator", lambda self: True)
    landed = {"now": False}
    monkeypatch.setattr(StepStats, "ready", lambda self: landed["now"])
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=1)
    watcher = run._watcher
    for i in range(4):
        opt.zero_grad()
        model(torch.randn(4, 8)).sum().backward()
        opt.step()
        if i == 1:
            assert len(watcher._step_end._in_flight) == 2  # nothing waited for the copies
            landed["now"] = True
    assert len(watcher._step_end._in_flight) <= 1
    run.finish()
    assert ds.open_run(run.path).stat_series("0", "grad").steps.tolist() == [0, 1, 2, 3]
