"""Frozen records of the transformer capture: attention heads, residual blocks, output logits.

Same conventions as :mod:`deepscope.store.records`: numpy arrays (``steps`` int64, values
float64 with NaN = not recorded) and ``to_dict`` for the JSON shared by the API and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepscope.store.records import _clean


@dataclass(frozen=True)
class AttentionModule:
    """A module whose attention the capture saw.

    Attributes:
        name: dotted module name (watch prefix included), e.g. ``transformer.h.0.attn``.
        type: its class name (``GPT2Attention``, ``MultiheadAttention``...).
        heads: number of heads.
        via: how it was seen: ``sdpa`` (``scaled_dot_product_attention``), ``softmax`` (a
            softmax over the key axis of 4-D scores) or ``multi_head_attention``
            (``nn.MultiheadAttention``).
        block: the residual block it belongs to, or None.

    """

    name: str
    type: str
    heads: int
    via: str
    block: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "heads": self.heads, "via": self.via,
                "block": self.block}


@dataclass(frozen=True)
class TransformerInfo:
    """What the transformer capture recognised in a run.

    Attributes:
        attention: recognised attention modules in forward order.
        blocks: residual blocks (the repeated layers holding attention) in forward order.
        outputs: watches whose output logits are recorded (``<root>`` or the watch names).
        unrecognised: modules named like attention whose attention could not be seen (a custom
            kernel such as flash-attn, or compiled code).
        probe_tokens: the token strings of the probe sequence, when given.
        probe_length: tokens of the probe sequence whose patterns are stored (None: no probe).
        note: what the capture could not do in this run (a compiled model), or None.

    """

    attention: tuple[AttentionModule, ...] = ()
    blocks: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    unrecognised: tuple[str, ...] = ()
    probe_tokens: tuple[str, ...] | None = None
    probe_length: int | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "attention": [m.to_dict() for m in self.attention],
            "blocks": list(self.blocks),
            "outputs": list(self.outputs),
            "unrecognised": list(self.unrecognised),
            "probe_tokens": None if self.probe_tokens is None else list(self.probe_tokens),
            "probe_length": self.probe_length,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TransformerInfo:
        """Rebuild from the stored JSON (unknown keys ignored)."""
        tokens = d.get("probe_tokens")
        return cls(
            attention=tuple(AttentionModule(str(m["name"]), str(m.get("type", "")),
                                            int(m.get("heads", 0)), str(m.get("via", "")),
                                            m.get("block"))
                            for m in d.get("attention") or ()),
            blocks=tuple(str(b) for b in d.get("blocks") or ()),
            outputs=tuple(str(o) for o in d.get("outputs") or ()),
            unrecognised=tuple(str(u) for u in d.get("unrecognised") or ()),
            probe_tokens=None if tokens is None else tuple(str(t) for t in tokens),
            probe_length=d.get("probe_length"),
            note=d.get("note"),
        )


@dataclass(frozen=True)
class HeadMatrix:
    """One per-head statistic over steps: ``values[s, m, h]`` is head ``h`` of attention module
    ``modules[m]`` at ``steps[s]`` (NaN where not recorded or beyond the module's ``heads[m]``).
    Feeds the layer x head heatmap and the head rules.
    """

    field: str
    modules: tuple[str, ...]
    heads: tuple[int, ...]
    steps: np.ndarray
    values: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "modules": list(self.modules),
            "heads": list(self.heads),
            "steps": self.steps.tolist(),
            "values": [[_clean(row) for row in step] for step in self.values],
        }


@dataclass(frozen=True)
class OutputSeries:
    """Output-logit statistics of one watch over sampled steps (:data:`OUTPUT_FIELDS`)."""

    watch: str
    steps: np.ndarray
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.fields[name]

    def to_dict(self) -> dict[str, Any]:
        return {"watch": self.watch, "steps": self.steps.tolist(),
                "fields": {k: _clean(v) for k, v in self.fields.items()}}


@dataclass(frozen=True)
class AttentionPattern:
    """Attention probabilities of the probe sequence at one step.

    ``probs[h, q, k]`` for every head, or ``probs[q, k]`` of the one asked for (then ``head``
    says which); ``steps`` lists every step with a stored pattern of this module.
    """

    module: str
    step: int
    heads: int
    probs: np.ndarray
    head: int | None = None
    steps: tuple[int, ...] = ()
    tokens: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "step": self.step,
            "heads": self.heads,
            "head": self.head,
            "steps": list(self.steps),
            "tokens": None if self.tokens is None else list(self.tokens),
            "values": [_clean(row) for row in self.probs] if self.probs.ndim == 2
            else [[_clean(row) for row in q] for q in self.probs],
        }
