"""See attention without patching models: a torch function mode over one sampled forward.

While active, :class:`AttentionMode` passes every torch call through unchanged and, for three
kinds of call, hands the call to its owner after it ran:

* ``scaled_dot_product_attention`` (HF GPT-2, BERT, LLaMA ``sdpa`` paths, custom modules),
* ``nn.functional.multi_head_attention_forward`` (``nn.MultiheadAttention``; the mode sees this
  outer call, not the softmax inside it),
* a softmax over the last axis of a 4-D tensor: the scores of an eager attention path.

Per-head statistics are recomputed from q and k (or the softmax's input and output) on a bounded
slice: the first :data:`SEQUENCES` sequences and at most :data:`QUERIES` evenly spaced query
positions, all on the tensors' device (no host sync). Outputs are never changed: the original
call's result is returned as is. Flash-attention and other custom kernels, ``flex_attention``
and attention inside compiled code are not seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812
from torch.overrides import TorchFunctionMode

#: Sequences of the batch the statistics look at.
SEQUENCES = 4
#: Query positions (evenly spaced) the statistics look at.
QUERIES = 64
#: Keys beyond this position are left out (very long contexts).
KEYS = 2048
#: Tokens of the probe sequence whose full pattern is kept.
PATTERN_TOKENS = 128
#: Additive mask values at or below this mark a masked pair (``finfo.min``, ``-1e4``, ``-inf``).
MASKED = -1e3

_SOFTMAX = {F.softmax, torch.softmax, torch.Tensor.softmax, torch.special.softmax}
KINDS: dict[Any, str] = {
    F.scaled_dot_product_attention: "sdpa",
    F.multi_head_attention_forward: "multi_head_attention",
    **dict.fromkeys(_SOFTMAX, "softmax"),
}

Handler = Callable[[str, tuple[Any, ...], dict[str, Any], Any], None]


class AttentionMode(TorchFunctionMode):
    """Calls ``handler(kind, args, kwargs, output)`` after each attention-like call.

    ``enabled`` turns it into a plain pass-through (a mode that could not be popped in order).
    """

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.enabled = True

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                           kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        kind = KINDS.get(func) if self.enabled else None
        if kind is not None:
            self.handler(kind, args, kwargs, out)
        return out


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], i: int, name: str,
         default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[i] if len(args) > i else default


def query_index(length: int, pattern: bool, device: torch.device) -> torch.Tensor:
    """Query positions looked at: evenly spaced ones (statistics) or the first ones (pattern)."""
    if pattern:
        return torch.arange(min(length, PATTERN_TOKENS), device=device)
    n = min(length, QUERIES)
    return torch.linspace(0, length - 1, n, device=device).round().long().unique()


class Scores:
    """Attention logits of a slice: ``logits`` (n, H, Q, K) float32, ``valid`` (broadcastable
    bool: which pairs take part), ``probs`` (the softmax over valid keys).
    """

    def __init__(self, logits: torch.Tensor, valid: torch.Tensor | None,
                 probs: torch.Tensor | None = None) -> None:
        self.logits = logits
        self.valid = valid
        if probs is None:
            masked = logits if valid is None else logits.masked_fill(~valid, float("-inf"))
            probs = masked.softmax(-1).nan_to_num(0.0)  # a fully masked row is all zero
        self.probs = probs


def head_statistics(s: Scores) -> torch.Tensor:
    """``(heads, len(HEAD_FIELDS))`` on the scores' device, in :data:`HEAD_FIELDS` order."""
    p, logits = s.probs, s.logits
    n, heads, q, k = p.shape
    valid = s.valid if s.valid is not None else torch.ones(1, 1, 1, k, dtype=torch.bool,
                                                           device=p.device)
    nvalid = valid.expand(n, heads, q, k).sum(-1)  # (n, H, Q)
    use = nvalid >= 2
    half = use & (nvalid * 2 >= nvalid.amax(-1, keepdim=True))
    count = use.sum((0, 2)).float()
    ent = -torch.special.xlogy(p, p).sum(-1)

    def mean(x: torch.Tensor) -> torch.Tensor:
        return torch.where(count > 0, (x * use).sum((0, 2)) / count.clamp(min=1), float("nan"))

    ent_min = torch.where(half, ent, float("inf")).amin((0, 2))
    ent_min = torch.where(torch.isfinite(ent_min), ent_min, float("nan"))
    biggest = torch.where(valid, logits.abs(), 0.0).amax((0, 2, 3))
    return torch.stack([
        mean(ent),
        ent_min,
        mean(p.amax(-1)),
        mean(p[..., 0]),
        biggest,
        mean(nvalid.clamp(min=1).float().log()),
    ], dim=1)


def _mask_valid(mask: torch.Tensor | None, bool_means_keep: bool, n: int, qi: torch.Tensor,
                keys: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """``(valid, additive)`` of a mask broadcast to (n|1, H|1, Q, K), sliced like the scores."""
    if mask is None:
        return None, None
    m = mask
    while m.dim() < 4:
        m = m.unsqueeze(0)
    m = m[: min(n, m.shape[0])] if m.shape[0] > 1 else m
    m = m.index_select(2, qi) if m.shape[2] > 1 else m
    m = m[..., :keys]
    if m.dtype == torch.bool:
        return (m if bool_means_keep else ~m), None
    m = m.float()
    return m > MASKED, m


def _causal(qi: torch.Tensor, keys: int) -> torch.Tensor:
    return (torch.arange(keys, device=qi.device)[None, :] <= qi[:, None])[None, None]


def _combine(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    return a if b is None else a & b


def sdpa_scores(args: tuple[Any, ...], kwargs: dict[str, Any], pattern: bool = False
                ) -> Scores | None:
    """Scores of a ``scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal,
    scale, enable_gqa)`` call.
    """
    q, k = _arg(args, kwargs, 0, "query"), _arg(args, kwargs, 1, "key")
    if not isinstance(q, torch.Tensor) or not isinstance(k, torch.Tensor) or q.dim() != 4:
        return None
    n = 1 if pattern else SEQUENCES
    keys = min(k.shape[-2], PATTERN_TOKENS if pattern else KEYS)
    qi = query_index(min(q.shape[-2], keys if pattern else KEYS), pattern, q.device)
    qs = q.detach()[:n].index_select(2, qi).float()
    ks = k.detach()[:n, :, :keys].float()
    if ks.shape[1] != qs.shape[1]:  # grouped-query attention (enable_gqa)
        ks = ks.repeat_interleave(qs.shape[1] // ks.shape[1], dim=1)
    scale = _arg(args, kwargs, 6, "scale")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    logits = qs @ ks.transpose(-1, -2) * scale
    valid, add = _mask_valid(_arg(args, kwargs, 3, "attn_mask"), True, n, qi, keys)
    if _arg(args, kwargs, 5, "is_causal", False):
        valid = _combine(valid, _causal(qi, keys))
    scored = logits if add is None else logits + add
    masked = scored if valid is None else scored.masked_fill(~valid, float("-inf"))
    return Scores(logits, valid, masked.softmax(-1).nan_to_num(0.0))


def softmax_scores(args: tuple[Any, ...], kwargs: dict[str, Any], out: Any,
                   pattern: bool = False) -> Scores | None:
    """Scores of a softmax over the last axis of 4-D attention scores (eager paths)."""
    x = args[0] if args else kwargs.get("input")
    dim = _arg(args, kwargs, 1, "dim")
    if not isinstance(x, torch.Tensor) or not isinstance(out, torch.Tensor) or x.dim() != 4 \
            or dim not in (-1, 3) or not x.is_floating_point():
        return None
    n = 1 if pattern else SEQUENCES
    keys = min(x.shape[-1], PATTERN_TOKENS if pattern else KEYS)
    qi = query_index(min(x.shape[-2], keys if pattern else KEYS), pattern, x.device)
    logits = x.detach()[:n].index_select(2, qi)[..., :keys].float()
    probs = out.detach()[:n].index_select(2, qi)[..., :keys].float()
    valid = (logits > MASKED) | (probs > 0)
    return Scores(logits.masked_fill(~valid, 0.0), valid, probs)


def mha_scores(args: tuple[Any, ...], kwargs: dict[str, Any], pattern: bool = False
               ) -> Scores | None:
    """Scores of ``F.multi_head_attention_forward``, from its inputs and projection weights."""
    names = ("query", "key", "value", "embed_dim_to_check", "num_heads", "in_proj_weight",
             "in_proj_bias", "bias_k", "bias_v", "add_zero_attn")
    a = {name: _arg(args, kwargs, i, name) for i, name in enumerate(names)}
    if a["bias_k"] is not None or a["add_zero_attn"] or _arg(args, kwargs, 21, "static_k") \
            is not None:
        return None  # extra key rows the recomputation does not model
    query, key, heads = a["query"], a["key"], int(a["num_heads"])
    if not isinstance(query, torch.Tensor) or not isinstance(key, torch.Tensor):
        return None
    if query.dim() == 2:
        query, key = query.unsqueeze(1), key.unsqueeze(1)
    length, batch, embed = query.shape
    n = 1 if pattern else SEQUENCES
    keys = min(key.shape[0], PATTERN_TOKENS if pattern else KEYS)
    qi = query_index(min(length, keys if pattern else KEYS), pattern, query.device)
    wq, wk, bq, bk = _mha_projections(a, args, kwargs, embed)
    with torch.no_grad():
        qs = F.linear(query.detach().index_select(0, qi)[:, :n], wq, bq)
        ks = F.linear(key.detach()[:keys, :n], wk, bk)
    hd = embed // heads
    qs = qs.float().reshape(len(qi), -1, heads, hd).permute(1, 2, 0, 3)
    ks = ks.float().reshape(keys, -1, heads, hd).permute(1, 2, 0, 3)
    logits = qs @ ks.transpose(-1, -2) / math.sqrt(hd)
    mask = _arg(args, kwargs, 16, "attn_mask")
    if isinstance(mask, torch.Tensor) and mask.dim() == 3:
        mask = mask.reshape(batch, heads, *mask.shape[1:])
    valid, add = _mask_valid(mask, False, n, qi, keys)
    pad = _arg(args, kwargs, 14, "key_padding_mask")
    if isinstance(pad, torch.Tensor):
        pv, padd = _mask_valid(pad[:, None, None, :], False, n,
                               torch.zeros(1, dtype=torch.long, device=qi.device), keys)
        valid = _combine(valid, pv)
        add = padd if add is None else (add if padd is None else add + padd)
    scored = logits if add is None else logits + add
    masked = scored if valid is None else scored.masked_fill(~valid, float("-inf"))
    return Scores(logits, valid, masked.softmax(-1).nan_to_num(0.0))


def _mha_projections(a: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                     embed: int) -> tuple[torch.Tensor, torch.Tensor, Any, Any]:
    bias = a["in_proj_bias"]
    bq, bk = (None, None) if bias is None else (bias[:embed].detach(),
                                                bias[embed : 2 * embed].detach())
    if _arg(args, kwargs, 17, "use_separate_proj_weight", False):
        return (_arg(args, kwargs, 18, "q_proj_weight").detach(),
                _arg(args, kwargs, 19, "k_proj_weight").detach(), bq, bk)
    w = a["in_proj_weight"].detach()
    return w[:embed], w[embed : 2 * embed], bq, bk


def scores_of(kind: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any,
              pattern: bool = False) -> Scores | None:
    """The bounded scores of one recognised call (None when it is not attention after all)."""
    with torch.no_grad():
        if kind == "sdpa":
            return sdpa_scores(args, kwargs, pattern)
        if kind == "softmax":
            return softmax_scores(args, kwargs, out, pattern)
        return mha_scores(args, kwargs, pattern)
