"""Building a graph leaves the model exactly as it was: state, modes, RNG, hooks, autograd."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepscope.graph import build_graph, trace
from deepscope.graph.guard import hook_counts
from models import ZOO


def snapshot(model: nn.Module) -> dict:
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()},
        "ids": {k: id(v) for k, v in model.state_dict(keep_vars=True).items()},
        "versions": {k: v._version for k, v in model.state_dict(keep_vars=True).items()},
        "training": [m.training for m in model.modules()],
        "hooks": hook_counts(model),
        "rng": torch.get_rng_state(),
        "global_hooks": (
            len(torch.nn.modules.module._global_forward_hooks),
            len(torch.nn.modules.module._global_forward_pre_hooks),
        ),
    }


def assert_same(before: dict, model: nn.Module) -> None:
    after = snapshot(model)
    assert after["ids"] == before["ids"]
    assert after["versions"] == before["versions"]
    for k, v in before["state"].items():
        assert torch.equal(after["state"][k], v), k
    assert after["training"] == before["training"]
    assert after["hooks"] == before["hooks"]
    assert torch.equal(after["rng"], before["rng"])
    assert after["global_hooks"] == before["global_hooks"]


@pytest.mark.parametrize("name", sorted(ZOO))
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape_only", [False, True])
def test_model_is_bit_identical_after_build(
    name: str, training: bool, shape_only: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shape_only:
        monkeypatch.setattr(trace, "FAKE_MIN_PARAMS", 0)
    torch.manual_seed(1)
    model, batch = ZOO[name]()
    model.train(training)
    model.register_forward_hook(lambda m, i, o: None)  # user hooks stay, ours go
    before = snapshot(model)
    build_graph(model, (batch,))
    assert_same(before, model)


def test_batchnorm_statistics_and_dropout_rng_untouched_in_training_mode() -> None:
    torch.manual_seed(0)
    model, x = ZOO["dropout"]()
    model.train()
    expected_next = torch.rand(3, generator=None)  # what the RNG gives without the build
    torch.manual_seed(0)
    model, x = ZOO["dropout"]()
    model.train()
    mean = model.bn.running_mean.clone()
    build_graph(model, x)
    assert torch.equal(model.bn.running_mean, mean)
    assert int(model.bn.num_batches_tracked) == 0
    assert torch.equal(torch.rand(3), expected_next)


def test_no_hooks_left_when_the_forward_raises() -> None:
    class Fails(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.bn = nn.BatchNorm1d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.bn(self.a(x))
            if y.sum() > -1e9:  # data-dependent: fx gives up, hooks see the raise
                raise ValueError("bad batch")
            return y

    model, x = Fails(), torch.randn(3, 4)
    before = snapshot(model)
    g = build_graph(model, x)
    assert g.tracer == "module_tree"
    assert_same(before, model)


def test_inside_a_training_step_gradients_and_graph_are_unaffected() -> None:
    torch.manual_seed(0)
    model, x = ZOO["resnet"]()
    y = torch.randint(0, 10, (x.shape[0],))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(with_graph: bool) -> list[torch.Tensor]:
        torch.manual_seed(3)
        loss = nn.functional.cross_entropy(model(x), y)
        if with_graph:
            build_graph(model, x)  # between forward and backward, as a callback would
        opt.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in model.parameters()]

    state = {k: v.clone() for k, v in model.state_dict().items()}
    plain = step(False)
    model.load_state_dict(state)
    traced = step(True)
    assert all(torch.equal(a, b) for a, b in zip(plain, traced, strict=True))
    assert torch.is_grad_enabled()


def test_input_size_does_not_consume_the_global_rng() -> None:
    model = ZOO["mlp"]()[0]
    state = torch.get_rng_state()
    build_graph(model, input_size=(2, 64))
    assert torch.equal(torch.get_rng_state(), state)


def test_a_forward_that_writes_into_its_input_leaves_the_callers_batch_alone() -> None:
    class Scales(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.ReLU(inplace=True)
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x /= 255.0
            return self.fc(self.act(x))

    x = torch.randn(3, 4) * 100
    before = x.clone()
    g = build_graph(Scales(), x)
    assert torch.equal(x, before)
    assert ("input:x", "::truediv") in {(e.source, e.target) for e in g.edges}
