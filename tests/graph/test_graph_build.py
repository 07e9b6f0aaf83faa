"""build_graph on every architecture family: exact totals, hierarchy, shapes, residual edges."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepscope.errors import GraphError, InvalidArgumentError
from deepscope.graph import Graph, build_graph
from models import ZOO, ResNetTiny, TinyTransformer


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def edge_set(g: Graph) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in g.edges}


def check_invariants(model: nn.Module, g: Graph) -> None:
    ids = [n.id for n in g.nodes]
    assert len(ids) == len(set(ids)), "node ids are unique"
    modules = {name for name, _ in model.named_modules() if name}
    assert {n.id for n in g.nodes if n.kind == "module"} == modules
    by_id = {n.id: n for n in g.nodes}
    for n in g.nodes:
        if n.parent is not None:
            assert by_id[n.parent].kind == "module" and by_id[n.parent].is_container
            assert n.depth == by_id[n.parent].depth + 1
    for e in g.edges:
        assert not by_id[e.source].is_container and not by_id[e.target].is_container
    assert g.totals.params == n_params(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert g.totals.trainable_params == trainable


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_models_have_exact_totals_and_connected_dataflow(name: str) -> None:
    torch.manual_seed(0)
    model, batch = ZOO[name]()
    g = build_graph(model, (batch,))
    check_invariants(model, g)
    assert g.tracer in ("fx", "hook")
    assert g.totals.flops > 0
    outputs = [n for n in g.nodes if n.kind == "output"]
    assert outputs and all(any(e.target == o.id for e in g.edges) for o in outputs)
    called = [n for n in g.nodes if n.kind == "module" and not n.is_container and n.calls]
    assert all(n.output_shapes for n in called)


def test_mlp_shapes_params_flops_per_layer() -> None:
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    g = build_graph(model, input_size=(4, 64))
    assert g.tracer == "fx"
    first = g.node("0")
    assert first.input_shapes == [[4, 64]] and first.output_shapes == [[4, 32]]
    assert first.params == 64 * 32 + 32 and first.dtype == "float32"
    assert first.flops == 2 * 4 * 64 * 32
    assert g.totals.flops == 2 * 4 * 64 * 32 + 2 * 4 * 32 * 10
    assert first.activation_bytes == 4 * 32 * 4
    assert edge_set(g) == {("input:input", "0"), ("0", "1"), ("1", "2"), ("2", "output")}


def test_residual_cnn_has_skip_edges_into_the_add() -> None:
    model, x = ResNetTiny(), torch.randn(2, 1, 8, 8)
    g = build_graph(model, x)
    edges = edge_set(g)
    assert ("stem", "blocks.0::add") in edges  # the skip connection
    assert ("blocks.0.bn2", "blocks.0::add") in edges
    assert ("blocks.0.relu", "blocks.1::add") in edges
    block = g.node("blocks.0")
    assert block.is_container and block.input_shapes == [[2, 8, 8, 8]]
    assert block.flops == sum(n.flops for n in g.nodes if n.parent == "blocks.0")
    assert g.node("blocks.0::add").parent == "blocks.0"


def test_lstm_and_gru_unpack_tuple_outputs() -> None:
    for model in (ZOO["lstm"]()[0], ZOO["gru"]()[0]):
        g = build_graph(model, torch.randn(3, 6, 8))
        rnn = next(n for n in g.nodes if n.type in ("LSTM", "GRU"))
        assert rnn.output_shapes[0] == [3, 6, 16] and rnn.flops > 0
        assert any(e.source == rnn.id and e.shape == [3, 6, 16] for e in g.edges)
        assert g.totals.params == n_params(model)


def test_transformer_encoder_falls_back_to_hooks_and_keeps_residuals() -> None:
    model = TinyTransformer()
    g = build_graph(model, torch.randn(2, 6, 8))
    check_invariants(model, g)
    assert g.tracer == "hook"
    assert any("torch.fx could not trace" in n for n in g.notes)
    edges = edge_set(g)
    assert ("proj", "encoder.layers.0::add") in edges
    assert ("encoder.layers.0.norm1", "encoder.layers.0::add_1") in edges
    attention = [n for n in g.nodes if n.parent == "encoder.layers.0.self_attn"]
    assert any(n.kind == "op" and n.flops > 0 for n in attention)


def test_module_called_twice_is_one_node_with_summed_calls() -> None:
    model, x = ZOO["shared"]()
    g = build_graph(model, x)
    shared = g.node("shared")
    assert shared.calls == 2 and shared.flops == 2 * 2 * 16 * 16 * 16
    assert ("act", "shared") in edge_set(g)
    assert any("called more than once" in n for n in g.notes)


def test_tied_parameters_are_counted_once_and_said() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(50, 8)
            self.out = nn.Linear(8, 50, bias=False)
            self.out.weight = self.emb.weight

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.out(self.emb(ids))

    model = Tied()
    g = build_graph(model, torch.randint(0, 50, (2, 5)))
    assert g.totals.params == n_params(model) == 400
    assert g.totals.shared_params == 400
    assert any("shared with out.weight" in n for n in g.notes)


def test_dict_inputs_and_outputs_use_hook_tracing() -> None:
    model, batch = ZOO["dict"]()
    g = build_graph(model, (batch,))
    assert g.tracer == "hook"
    assert g.node("input:batch.x").output_shapes == [[16, 6, 8]]
    assert {"output:logits", "output:score"} <= {n.id for n in g.nodes}
    assert ("input:batch.x", "enc") in edge_set(g)


def test_keyword_inputs_from_a_dict() -> None:
    class KW(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
            return self.fc(x) * scale if scale is not None else self.fc(x)

    g = build_graph(KW(), {"x": torch.randn(3, 4), "scale": torch.ones(3, 2)})
    assert g.tracer == "fx"
    assert {"input:x", "input:scale"} <= {n.id for n in g.nodes}
    assert ("input:scale", "::mul") in edge_set(g)


def test_untraceable_model_falls_back_with_notes_and_module_tree() -> None:
    class DataDependent(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x) if x.sum() > 0 else self.b(x)

    model = DataDependent()
    g = build_graph(model, torch.ones(1, 4))
    assert g.tracer == "hook" and any("torch.fx" in n for n in g.notes)
    assert g.node("a").calls == 1 and g.node("b").calls == 0

    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    g = build_graph(Broken(), torch.ones(1, 4))
    assert g.tracer == "module_tree"
    assert any("RuntimeError: boom" in n for n in g.notes)
    assert g.node("fc").params == 20 and g.totals.params == 20 and not g.edges


def test_no_inputs_gives_fx_structure_or_module_tree() -> None:
    g = build_graph(ZOO["mlp"]()[0])
    assert g.tracer == "fx" and g.edges and g.totals.flops == 0
    assert any("without example inputs" in n for n in g.notes)
    g = build_graph(TinyTransformer())
    assert g.tracer == "module_tree" and any("no example inputs" in n for n in g.notes)


def test_bad_arguments_give_one_line_errors() -> None:
    with pytest.raises(GraphError, match="expected a torch.nn.Module"):
        build_graph("not a model")
    with pytest.raises(InvalidArgumentError, match="input_size"):
        build_graph(nn.Linear(2, 2), input_size="1,2")
    with pytest.raises(InvalidArgumentError, match="positive integers"):
        build_graph(nn.Linear(2, 2), input_size=(1, 0))
    with pytest.raises(InvalidArgumentError, match="not both"):
        build_graph(nn.Linear(2, 2), torch.ones(1, 2), input_size=(1, 2))


def test_collapse_reroutes_edges_to_ancestors() -> None:
    g = build_graph(ResNetTiny(), torch.randn(2, 1, 8, 8))
    top = g.collapse(1)
    assert {n.id for n in top.nodes if n.kind == "module"} == {"stem", "blocks", "head"}
    assert not top.node("blocks").is_container
    assert ("stem", "blocks") in edge_set(top) and ("blocks", "::mean") in edge_set(top)
    assert top.totals == g.totals
    with pytest.raises(GraphError):
        g.collapse(0)


def test_round_trip_through_dict() -> None:
    g = build_graph(ResNetTiny(), torch.randn(2, 1, 8, 8))
    data = g.to_dict()
    assert data["format"] == "deepscope.graph/1" and data["model"] == "ResNetTiny"
    assert set(data["nodes"][0]) >= {
        "id", "name", "label", "type", "kind", "parent", "depth", "is_container", "input_shapes",
        "output_shapes", "dtype", "params", "trainable_params", "flops", "activation_bytes",
    }  # fmt: skip
    assert set(data["totals"]) == {
        "params", "trainable_params", "flops", "activation_bytes", "shared_params"
    }  # fmt: skip
    assert Graph.from_dict(data).to_dict() == data
    with pytest.raises(GraphError):
        Graph.from_dict({"format": "other"})


def test_positional_and_keyword_inputs_as_a_forward_hook_sees_them() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor, *, bias: torch.Tensor) -> torch.Tensor:
            return self.fc(x) + bias

    g = build_graph(Mixed(), (torch.randn(3, 4),), example_kwargs={"bias": torch.ones(2)})
    assert {"input:x", "input:bias"} <= {n.id for n in g.nodes}
    assert ("input:bias", "::add") in edge_set(g) and ("input:x", "fc") in edge_set(g)
    with pytest.raises(InvalidArgumentError, match="example_kwargs"):
        build_graph(Mixed(), torch.randn(3, 4), example_kwargs=[1])


def test_branches_concatenation_and_root_parameters() -> None:
    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.b = nn.ModuleDict({"a": nn.Conv2d(3, 4, 1), "b": nn.Conv2d(3, 4, 3, padding=1)})
            self.cls = nn.Parameter(torch.zeros(1, 1, 8))
            self.fc = nn.Linear(8, 2)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
            y = torch.cat([self.b["a"](x), self.b["b"](x)], 1)
            t = y.flatten(2).transpose(1, 2)
            t = torch.cat([self.cls.expand(x.shape[0], -1, -1), t], 1)
            return self.fc(t[:, 0]), None

    model = Branchy()
    g = build_graph(model, torch.randn(2, 3, 4, 4))
    e = edge_set(g)
    assert {("input:x", "b.a"), ("input:x", "b.b"), ("b.a", "::cat"), ("b.b", "::cat")} <= e
    assert ("::expand", "::cat_1") in e  # the class token joins the sequence
    assert g.node("::cat").output_shapes == [[2, 8, 4, 4]]
    assert g.totals.params == n_params(model) and g.node("b").params == (12 + 4) + (108 + 4)


def test_lazy_modules_are_not_initialised_by_the_graph() -> None:
    model = nn.Sequential(nn.LazyLinear(4), nn.ReLU())
    g = build_graph(model, torch.randn(2, 3))
    assert model[0].has_uninitialized_params()
    assert any("lazy modules" in n for n in g.notes) and g.totals.params == 0
