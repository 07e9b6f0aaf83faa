"""Shape-only execution (fake tensors) gives the same graph as a real forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepscope.graph import build_graph, fx_trace, trace
from models import ZOO


@pytest.mark.parametrize("name", sorted(ZOO))
def test_fake_and_real_execution_agree(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model, batch = ZOO[name]()
    real = build_graph(model, (batch,)).to_dict()
    monkeypatch.setattr(trace, "FAKE_MIN_PARAMS", 0)
    fake = build_graph(model, (batch,)).to_dict()
    assert not any("real forward pass" in n for n in fake["notes"])
    assert fake == real


def test_data_dependent_model_runs_for_real_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    class Picky(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.fc(x)
            return y[y > 0]  # output shape depends on values

    monkeypatch.setattr(trace, "FAKE_MIN_PARAMS", 0)
    torch.manual_seed(0)
    model, x = Picky(), torch.randn(3, 4)
    g = build_graph(model, x)
    assert g.tracer == "fx"
    assert any("ran a real forward pass" in n for n in g.notes)
    with torch.no_grad():
        positives = int((model.fc(x) > 0).sum())
    assert g.node("output").input_shapes == [[positives]]


def test_large_batches_run_shape_only_and_match_a_small_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    real_shape_only = fx_trace.shape_only

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real_shape_only(*args, **kwargs)

    monkeypatch.setattr(fx_trace, "shape_only", spy)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
    big = torch.randn(64, 3, 160, 160)  # 4.9 M elements: above the threshold
    g = build_graph(model, big)
    assert calls == [1]
    assert g.node("0").output_shapes == [[64, 8, 160, 160]]
    assert g.totals.flops == 64 * build_graph(model, big[:1]).totals.flops
    assert not any("real forward pass" in n for n in g.notes)
