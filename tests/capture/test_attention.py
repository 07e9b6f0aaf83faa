"""Per-head attention statistics against a slow, obviously correct reference, over masks, shapes,
grouped-query attention and the three call paths (sdpa, eager softmax, nn.MultiheadAttention).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from deepscope.capture.attention import (
    AttentionMode,
    head_statistics,
    mha_scores,
    query_index,
    scores_of,
    sdpa_scores,
    softmax_scores,
)
from deepscope.store.schema import HEAD_FIELDS

FIELD = {f: i for i, f in enumerate(HEAD_FIELDS)}


def reference(q: np.ndarray, k: np.ndarray, keep: np.ndarray, add: np.ndarray, scale: float
              ) -> np.ndarray:
    """Loop by loop: every sequence, head and query on its own. ``keep[n, h, i, j]`` says which
    pairs take part, ``add`` is the additive mask (both already sliced like the capture)."""
    n, heads, nq, _ = q.shape
    out = np.zeros((heads, len(HEAD_FIELDS)))
    for h in range(heads):
        ents, maxw, first, uni, mins, logit = [], [], [], [], [], 0.0
        counts = [[int(keep[b, h, i].sum()) for i in range(nq)] for b in range(n)]
        for b in range(n):
            most = max(counts[b])
            for i in range(nq):
                valid = np.flatnonzero(keep[b, h, i])
                raw = np.array([q[b, h, i] @ k[b, h, j] * scale for j in valid])
                if len(valid):
                    logit = max(logit, float(np.abs(raw).max()))
                if len(valid) < 2:
                    continue
                s = raw + add[b, h, i, valid]
                p = np.exp(s - s.max())
                p /= p.sum()
                e = float(-(p * np.log(np.where(p > 0, p, 1))).sum())
                ents.append(e)
                maxw.append(p.max())
                first.append(p[0] if valid[0] == 0 else 0.0)
                uni.append(math.log(len(valid)))
                if 2 * len(valid) >= most:
                    mins.append(e)
        out[h] = [np.mean(ents), min(mins), np.mean(maxw), np.mean(first), logit, np.mean(uni)]
    return out


def _case(seed: int, batch: int, heads: int, length: int, keys: int, mask: str, gqa: int = 1):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, length, 8, generator=g) * 2
    k = torch.randn(batch, heads // gqa, keys, 8, generator=g) * 2
    attn_mask, causal = None, False
    if mask == "causal":
        causal = True
    elif mask == "bool":
        attn_mask = torch.rand(batch, 1, length, keys, generator=g) > 0.3
        attn_mask[..., 0] = True
    elif mask == "float":
        attn_mask = torch.zeros(batch, 1, 1, keys)
        attn_mask[1:, ..., -3:] = torch.finfo(torch.float32).min  # padding of later sequences
        attn_mask += -0.1 * torch.arange(keys).float()  # a position bias (ALiBi-like)
    return q, k, attn_mask, causal


@pytest.mark.parametrize(("seed", "batch", "heads", "length", "keys", "mask", "gqa"), [
    (0, 2, 3, 7, 7, "none", 1),
    (1, 5, 2, 9, 9, "causal", 1),
    (2, 3, 4, 6, 11, "bool", 1),
    (3, 6, 2, 5, 8, "float", 1),
    (4, 2, 4, 70, 70, "causal", 2),  # more queries than are looked at; grouped-query attention
])
def test_sdpa_statistics_match_the_reference(seed, batch, heads, length, keys, mask, gqa) -> None:
    q, k, attn_mask, causal = _case(seed, batch, heads, length, keys, mask, gqa)
    v = torch.randn(batch, heads // gqa, keys, 8)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=causal,
                                         enable_gqa=gqa > 1)
    got = head_statistics(sdpa_scores((q, k, v), {"attn_mask": attn_mask, "is_causal": causal,
                                                  "enable_gqa": gqa > 1}))
    n = min(batch, 4)
    qi = query_index(length, False, q.device).numpy()
    kk = k.repeat_interleave(gqa, dim=1)
    keep = np.ones((n, heads, len(qi), keys), bool)
    add = np.zeros(keep.shape)
    if causal:
        keep &= np.arange(keys)[None, :] <= qi[:, None]
    if mask == "bool":
        keep &= attn_mask[:n].expand(n, heads, length, keys).numpy()[:, :, qi]
    if mask == "float":
        m = attn_mask[:n].expand(n, heads, length, keys).numpy()[:, :, qi]
        keep &= m > -1e3
        add = np.where(keep, m, 0.0)
    want = reference(q[:n, :, qi].numpy(), kk[:n].numpy(), keep, add, 1 / math.sqrt(8))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-5)
    assert out.shape == (batch, heads, length, 8)


def test_eager_softmax_path_gives_the_same_statistics_as_sdpa() -> None:
    q, k, _, _ = _case(5, 3, 2, 10, 10, "causal")
    scale = 1 / math.sqrt(8)
    s = q @ k.transpose(-1, -2) * scale
    s = s.masked_fill(~torch.ones(10, 10, dtype=torch.bool).tril(), torch.finfo(s.dtype).min)
    p = F.softmax(s, dim=-1)
    eager = head_statistics(softmax_scores((s,), {"dim": -1}, p))
    sdpa = head_statistics(sdpa_scores((q, k, k), {"is_causal": True}))
    torch.testing.assert_close(eager, sdpa, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention_recomputed_from_its_weights(batch_first: bool) -> None:
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=batch_first)
    x = torch.randn(3, 9, 16) if batch_first else torch.randn(9, 3, 16)
    causal = torch.ones(9, 9, dtype=torch.bool).triu(1)  # True: may not attend
    pad = torch.zeros(3, 9, dtype=torch.bool)
    pad[2, -2:] = True
    calls = []
    with AttentionMode(lambda kind, a, kw, out: calls.append((kind, a, kw))):
        _, weights = mha(x, x, x, attn_mask=causal, key_padding_mask=pad,
                         average_attn_weights=False)
    kind, args, kwargs = calls[0]
    assert kind == "multi_head_attention"
    got = head_statistics(mha_scores(args, kwargs))
    # nn.MultiheadAttention's own weights (need_weights) are the probabilities to match.
    p = weights.detach()
    ent = -(torch.special.xlogy(p, p)).sum(-1)
    keep = ~causal[None, None] & ~pad[:, None, None, :]
    nvalid = keep.sum(-1)
    use = nvalid >= 2
    torch.testing.assert_close(got[:, FIELD["entropy_mean"]],
                               (ent * use).sum((0, 2)) / use.sum((0, 2)), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got[:, FIELD["max_weight"]],
                               (p.amax(-1) * use).sum((0, 2)) / use.sum((0, 2)),
                               rtol=1e-4, atol=1e-5)


def test_a_softmax_that_is_not_over_attention_keys_is_ignored() -> None:
    x = torch.randn(2, 3, 4, 5)
    assert scores_of("softmax", (x,), {"dim": 1}, x.softmax(1)) is None
    assert scores_of("softmax", (x[0],), {"dim": -1}, x[0].softmax(-1)) is None


def test_the_mode_passes_every_result_through_unchanged() -> None:
    q, k, _, _ = _case(6, 2, 2, 5, 5, "none")
    plain = F.scaled_dot_product_attention(q, k, k)
    seen = []
    with AttentionMode(lambda *a: seen.append(a[0])):
        moded = F.scaled_dot_product_attention(q, k, k)
        torch.softmax(q, -1)
    assert torch.equal(plain, moded) and seen == ["sdpa", "softmax"]
    assert torch.overrides._get_current_function_mode() is None


def test_probe_patterns_keep_every_query_of_the_first_sequence() -> None:
    q, k, _, _ = _case(7, 2, 2, 12, 12, "causal")
    s = sdpa_scores((q, k, k), {"is_causal": True}, pattern=True)
    assert s.probs.shape == (1, 2, 12, 12)
    torch.testing.assert_close(s.probs.sum(-1), torch.ones(1, 2, 12))
    assert torch.all(s.probs[0, :, 0, 1:] == 0)  # causal: the first query sees itself only
