"""The transformer capture on real models: what it recognises, what it costs, what it leaves."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

import deepscope as ds
from compiled_training import train_compiled
from deepscope.capture.attention import AttentionMode
from deepscope.errors import InvalidArgumentError
from models import QKNormGPT, TinyTransformer, tiny_bert, tiny_gpt2

VOCAB = 40


def _llama(attn: str = "sdpa") -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=4,
                                        num_key_value_heads=2, intermediate_size=64,
                                        vocab_size=VOCAB, attn_implementation=attn))


def _logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    if isinstance(model, TinyTransformer):
        return model(F.one_hot(ids[..., :8] % 8, 8).float())
    out = model(input_ids=ids) if hasattr(model, "config") else model(ids)
    return out.logits if hasattr(out, "logits") else out


def _train(model: nn.Module, runs_dir, steps: int = 4, every: int = 1, **watch) -> ds.RunReader:
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    run = ds.init(name="tx", dir=runs_dir)
    run.watch(model, optimizer=opt, every=every, **watch)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        ids = torch.randint(1, VOCAB, (3, 12), generator=gen)
        logits = _logits(model, ids)
        loss = logits.float().logsumexp(-1).mean() - logits.float().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    run.finish()
    return ds.open_run(run.path)


RECOGNISED = {
    "gpt2-sdpa": (lambda: tiny_gpt2(VOCAB, layers=2, d=32), "GPT2Attention", "sdpa",
                  "transformer.h.0.attn", "transformer.h.0"),
    "gpt2-eager": (lambda: tiny_gpt2(VOCAB, layers=2, d=32, attn="eager"), "GPT2Attention",
                   "softmax", "transformer.h.0.attn", "transformer.h.0"),
    "bert-sdpa": (lambda: tiny_bert(VOCAB, d=32), "BertSelfAttention", "sdpa",
                  "bert.encoder.layer.0.attention.self", "bert.encoder.layer.0"),
    "bert-eager": (lambda: tiny_bert(VOCAB, d=32, attn="eager"), "BertSelfAttention", "softmax",
                   "bert.encoder.layer.0.attention.self", "bert.encoder.layer.0"),
    "llama-gqa": (_llama, "LlamaAttention", "sdpa", "model.layers.0.self_attn",
                  "model.layers.0"),
    "torch-mha": (lambda: TinyTransformer(), "MultiheadAttention", "multi_head_attention",
                  "encoder.layers.0.self_attn", "encoder.layers.0"),
    "custom-sdpa": (lambda: QKNormGPT(VOCAB, d=32, layers=2), "QKNormAttention", "sdpa",
                    "blocks.0.attn", "blocks.0"),
}


@pytest.mark.parametrize("name", sorted(RECOGNISED))
def test_attention_modules_and_blocks_are_recognised(name: str, runs_dir) -> None:
    build, typ, via, first, block = RECOGNISED[name]
    torch.manual_seed(0)
    r = _train(build(), runs_dir)
    info = r.transformer_info()
    assert [(m.type, m.via) for m in info.attention] == [(typ, via)] * 2
    assert info.attention[0].name == first and info.attention[0].block == block
    assert info.blocks[0] == block and len(info.blocks) == 2
    heads = r.head_matrix("entropy_mean")
    assert heads.steps.tolist() == [0, 1, 2, 3] and np.isfinite(heads.values).all()
    uniform = r.head_matrix("uniform_entropy").values
    assert (heads.values <= uniform + 1e-4).all()  # entropy never exceeds uniform attention
    assert np.isfinite(r.block_matrix("outlier_ratio").values).all()
    out = r.output_series()
    assert out["width"][0] == (2 if name == "torch-mha" else VOCAB) or name == "torch-mha"


@pytest.mark.parametrize("family", ["gpt2", "bert"])
def test_sdpa_and_eager_paths_record_the_same_statistics(family: str, runs_dir) -> None:
    build = tiny_gpt2 if family == "gpt2" else tiny_bert
    torch.manual_seed(0)
    sdpa = build(VOCAB, layers=2, d=32)
    eager = build(VOCAB, layers=2, d=32, attn="eager")
    eager.load_state_dict(sdpa.state_dict())
    a, b = _train(sdpa, runs_dir / "a"), _train(eager, runs_dir / "b")
    for field in ("entropy_mean", "entropy_min", "max_weight", "first_share", "max_logit"):
        np.testing.assert_allclose(a.head_matrix(field).values, b.head_matrix(field).values,
                                   rtol=2e-3, atol=1e-4, err_msg=field)


def test_mode_is_active_only_inside_attention_of_sampled_forwards(runs_dir) -> None:
    torch.manual_seed(0)
    model = tiny_gpt2(VOCAB, layers=2, d=32)
    seen: list[tuple[str, bool]] = []

    def spy(where: str):  # noqa: ANN202
        def hook(*_: object) -> None:
            if torch.is_grad_enabled():  # training forwards (not the graph recorder's)
                seen.append((where, isinstance(torch.overrides._get_current_function_mode(),
                                               AttentionMode)))
        return hook

    model.transformer.h[0].attn.c_proj.register_forward_hook(spy("attention"))
    model.transformer.h[0].mlp.c_fc.register_forward_hook(spy("mlp"))
    _train(model, runs_dir, steps=6, every=5)  # sampled: 0, 1, 2, 5
    by_step = [seen[i : i + 2] for i in range(0, len(seen), 2)]
    # Step 0 discovers (the mode spans the forward); then only attention, only when sampled.
    assert by_step[0] == [("attention", True), ("mlp", True)]
    assert [s[0][1] for s in by_step[1:]] == [True, True, False, False, True]
    assert not any(s[1][1] for s in by_step[1:])
    assert torch.overrides._get_current_function_mode() is None


def test_a_model_without_attention_switches_the_capture_off(runs_dir) -> None:
    model = nn.Sequential(nn.Embedding(VOCAB, 16), nn.Linear(16, VOCAB))
    r = _train(model, runs_dir)
    with pytest.raises(ds.DeepscopeError, match="enable with"):
        r.transformer_info()
    with pytest.raises(ds.DeepscopeError, match="enable with"):
        r.head_matrix("entropy_mean")


def test_transformer_false_records_nothing_new(runs_dir) -> None:
    r = _train(tiny_gpt2(VOCAB, layers=2, d=32), runs_dir, transformer=False)
    with pytest.raises(ds.DeepscopeError, match="not recorded|no transformer"):
        r.transformer_info()
    assert "grad" in r.stat_kinds()


def test_mode_and_hooks_are_gone_after_a_forward_that_raises(runs_dir) -> None:
    torch.manual_seed(0)
    model = tiny_gpt2(VOCAB, layers=2, d=32)
    before = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    run = ds.init(dir=runs_dir)
    run.watch(model, optimizer=opt, every=1)
    ids = torch.randint(1, VOCAB, (2, 8))
    for step in range(3):
        boom = None
        if step in (0, 2):  # the discovery forward and a later sampled one
            def fail(*_: object) -> None:
                raise RuntimeError("boom")

            boom = model.transformer.h[1].attn.c_proj.register_forward_hook(fail)
        try:
            model(input_ids=ids, labels=ids).loss.backward()
            opt.step()
        except RuntimeError:
            assert torch.overrides._get_current_function_mode() is None
        finally:
            if boom is not None:
                boom.remove()
        opt.zero_grad()
    run.finish()
    after = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    assert after == before and torch.overrides._get_current_function_mode() is None


def test_probe_patterns_tokens_and_schedule(runs_dir) -> None:
    class Tokenizer:
        def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
            return [f"t{i}" for i in ids]

    torch.manual_seed(0)
    probe = torch.arange(1, 11).unsqueeze(0)
    r = _train(tiny_gpt2(VOCAB, layers=2, d=32), runs_dir, steps=12, every=2,
               probe={"input_ids": probe}, tokens=Tokenizer())
    info = r.transformer_info()
    assert info.probe_tokens == tuple(f"t{i}" for i in range(1, 11)) and info.probe_length == 10
    p = r.attention_pattern("transformer.h.1.attn", head=3)
    # Sampled steps 0, 1, 2, 4, 6, 8, 10: probes at the 1st and 6th, and after training.
    assert p.steps == (0, 8, 11) and p.step == 11 and p.probs.shape == (10, 10)
    np.testing.assert_allclose(p.probs.sum(-1), 1.0, atol=2e-3)
    assert np.all(np.triu(p.probs, 1) == 0)
    assert r.attention_pattern("transformer.h.0.attn", step=3).step == 0
    assert r.attention_pattern("transformer.h.0.attn").probs.shape == (4, 10, 10)


def test_a_bad_probe_is_an_event_and_training_goes_on(runs_dir) -> None:
    r = _train(tiny_gpt2(VOCAB, layers=2, d=32), runs_dir,
               probe={"input_ids": torch.full((1, 5), VOCAB + 7)})
    events = r.events("probe_failed")
    assert len(events) == 1 and "IndexError" in events[0].data["error"]
    assert r.meta().status == "finished" and r.head_matrix("max_logit").steps.tolist() == \
        [0, 1, 2, 3]


@pytest.mark.parametrize(("probe", "tokens", "match"), [
    (42, None, "probe"),
    (None, ["a"], "needs a probe"),
    (torch.zeros(1, 3, dtype=torch.long), "abc", "list of token strings"),
    (torch.zeros(1, 3), object(), "list of token strings"),
])
def test_probe_arguments_are_checked(probe, tokens, match, runs_dir) -> None:  # noqa: ANN001
    run = ds.init(dir=runs_dir)
    with pytest.raises(InvalidArgumentError, match=match):
        run.watch(nn.Linear(2, 2), probe=probe, tokens=tokens)
    run.finish()


def test_training_with_capture_and_probe_is_bit_identical(runs_dir) -> None:
    torch.manual_seed(0)
    model = tiny_gpt2(VOCAB, layers=2, d=32, resid_pdrop=0.1, attn_pdrop=0.1)  # dropout: RNG
    twin = copy.deepcopy(model)

    def losses(m: nn.Module, watch: bool) -> list[float]:
        torch.manual_seed(1)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
        run = ds.init(dir=runs_dir) if watch else None
        if run is not None:
            run.watch(m, optimizer=opt, every=1, probe={"input_ids": torch.arange(1, 9)[None]})
        out = []
        for _ in range(6):
            ids = torch.randint(1, VOCAB, (2, 8))
            loss = m(input_ids=ids, labels=ids).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
        if run is not None:
            run.finish()
        return out

    assert losses(model, False) == losses(twin, True)
    for (k, a), (_, b) in zip(model.state_dict().items(), twin.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_compiled_model_gets_no_graph_breaks_and_says_what_it_cannot_see(runs_dir) -> None:
    def loss(cm: nn.Module) -> torch.Tensor:
        return cm(torch.randint(1, VOCAB, (2, 8))).logsumexp(-1).mean()

    def count(watch: bool) -> tuple[int, dict[str, int], Path | None]:
        return train_compiled(lambda: QKNormGPT(VOCAB, d=32, layers=2), loss, runs_dir, watch)

    plain, watched = count(False), count(True)
    assert watched[:2] == plain[:2]
    assert watched[2] is not None
    info = ds.open_run(watched[2]).transformer_info()
    assert not info.attention and "compiled" in info.note
    assert "blocks.0.attn" in info.unrecognised and info.outputs == ("<root>",)
