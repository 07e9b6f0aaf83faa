"""Shape-only execution (fake tensors) gives the same graph as a real forward pass."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepscope.graph import build_graph, trace
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
