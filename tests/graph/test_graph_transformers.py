"""GPT-2 and BERT built from configs with random weights (no downloads): exact totals, residuals."""

from __future__ import annotations

import time

import pytest
import torch

from deepscope.graph import build_graph

transformers = pytest.importorskip("transformers")


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def edges(g) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(e.source, e.target) for e in g.edges}


def small_gpt2() -> torch.nn.Module:
    cfg = transformers.GPT2Config(
        n_layer=2, n_embd=32, n_head=2, vocab_size=97, n_positions=64, bos_token_id=0,
        eos_token_id=0,
    )  # fmt: skip
    return transformers.GPT2LMHeadModel(cfg)


def test_gpt2_graph_has_exact_totals_tied_weights_and_residual_edges() -> None:
    torch.manual_seed(0)
    model = small_gpt2()
    ids = torch.randint(0, 97, (2, 12))
    g = build_graph(model, {"input_ids": ids})
    assert g.tracer == "hook"
    assert g.totals.params == n_params(model)
    assert g.totals.shared_params == 97 * 32  # lm_head tied to the token embedding
    assert any("lm_head.weight" in n and "counted once" in n for n in g.notes)
    e = edges(g)
    for i in range(2):
        block = f"transformer.h.{i}"
        # attention residual: the block input and the attention output meet in one add
        assert (f"{block}.attn.resid_dropout", f"{block}::add") in e
        assert (f"{block}::add", f"{block}::add_1") in e  # MLP residual skips the MLP
        assert (f"{block}.mlp.dropout", f"{block}::add_1") in e
    assert ("transformer.drop", "transformer.h.0::add") in e
    assert g.node("lm_head").output_shapes == [[2, 12, 97]]
    sdpa = [n for n in g.nodes if n.type == "scaled_dot_product_attention"]
    assert len(sdpa) == 2 and all(n.flops > 0 for n in sdpa)
    assert g.node("transformer.h.0.attn").flops == sum(
        n.flops for n in g.nodes if n.parent == "transformer.h.0.attn"
    )


def test_bert_graph_with_attention_mask() -> None:
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        vocab_size=100, max_position_embeddings=64,
    )  # fmt: skip
    model = transformers.BertModel(cfg)
    ids = torch.randint(0, 100, (2, 10))
    g = build_graph(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    assert g.totals.params == n_params(model)
    assert {"input:input_ids", "input:attention_mask"} <= {n.id for n in g.nodes}
    e = edges(g)
    # post-norm residuals: sublayer output + sublayer input -> add -> LayerNorm
    assert ("embeddings.dropout", "encoder.layer.0.attention.output::add") in e
    out = "encoder.layer.0.attention.output"
    assert (f"{out}::add", f"{out}.LayerNorm") in e
    assert ("encoder.layer.0.attention.output.LayerNorm", "encoder.layer.0.output::add") in e
    assert g.node("pooler.dense").output_shapes == [[2, 32]]
    outputs = {n.id for n in g.nodes if n.kind == "output"}
    assert outputs == {"output:last_hidden_state", "output:pooler_output"}


def test_default_gpt2_is_fast_and_complete() -> None:
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    start = time.perf_counter()
    g = build_graph(model, {"input_ids": torch.randint(0, 50257, (1, 32))})
    elapsed = time.perf_counter() - start
    assert g.totals.params == n_params(model) == 124_439_808
    assert not any("real forward pass" in n for n in g.notes)  # ran shape-only
    assert len([n for n in g.nodes if n.id.endswith("::add_1")]) >= 12
    assert g.totals.flops > 2 * 32 * 85_000_000  # at least the matmuls of the 12 blocks
    print(f"default GPT-2 graph: {elapsed:.2f} s, {len(g.nodes)} nodes")  # not asserted
