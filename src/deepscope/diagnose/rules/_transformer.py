"""What the transformer rules share: their data, read once per diagnosis, before the horizon."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepscope.diagnose.base import Rule
from deepscope.diagnose.view import RunView, as_view
from deepscope.errors import NotRecordedError
from deepscope.store.reader import RunReader
from deepscope.store.records import StatMatrix
from deepscope.store.transformer_records import HeadMatrix, TransformerInfo


def info(view: RunView) -> TransformerInfo | None:
    """What the transformer capture recognised, or None (not a transformer, not recorded)."""
    def read() -> TransformerInfo | None:
        try:
            return view.reader.transformer_info()
        except NotRecordedError:
            return None

    return view.memo(("transformer_info",), read)


def heads(view: RunView, field: str) -> HeadMatrix | None:
    """One head statistic before the first non-finite step (None when not recorded)."""
    def read() -> HeadMatrix | None:
        try:
            m = view.reader.head_matrix(field)
        except NotRecordedError:
            return None
        keep = m.steps < view.horizon()
        return HeadMatrix(m.field, m.modules, m.heads, m.steps[keep], m.values[keep])

    return view.memo(("heads", field), read)


def blocks(view: RunView, field: str) -> StatMatrix | None:
    """One block statistic before the first non-finite step (None when not recorded)."""
    def read() -> StatMatrix | None:
        try:
            m = view.reader.block_matrix(field)
        except NotRecordedError:
            return None
        keep = m.steps < view.horizon()
        return StatMatrix(m.kind, m.field, m.layers, m.steps[keep], m.values[:, keep])

    return view.memo(("blocks", field), read)


def head_names(m: HeadMatrix) -> list[tuple[str, int]]:
    """``(module, head)`` of every column of ``m.values.reshape(steps, -1)`` that exists."""
    return [(mod, h) for mod, n in zip(m.modules, m.heads, strict=True) for h in range(n)]


def per_head(m: HeadMatrix) -> np.ndarray:
    """``(steps, heads)``: the matrix with every existing head as one column."""
    cols = [m.values[:, i, h] for i, n in enumerate(m.heads) for h in range(n)]
    return np.stack(cols, axis=1) if cols else np.zeros((len(m.steps), 0))


def describe_heads(picked: list[tuple[str, int]], limit: int = 6) -> str:
    """``transformer.h.0.attn heads 1, 3; transformer.h.1.attn head 0`` (at most ``limit``)."""
    by_module: dict[str, list[int]] = {}
    for mod, h in picked[:limit]:
        by_module.setdefault(mod, []).append(h)
    parts = [f"{mod} head{'s' if len(hs) > 1 else ''} {', '.join(map(str, hs))}"
             for mod, hs in by_module.items()]
    more = f" and {len(picked) - limit} more" if len(picked) > limit else ""
    return "; ".join(parts) + more


class TransformerRule(Rule):
    """A rule over the transformer capture (attention heads, residual blocks, output logits).

    Example:
        >>> from deepscope.diagnose.rules.attention_logit_growth import AttentionLogitGrowth
        >>> issubclass(AttentionLogitGrowth, TransformerRule)
        True

    """

    #: What the rule reads: ``heads``, ``blocks`` or ``output``.
    needs = "heads"

    def missing(self, reader: RunReader) -> str | None:
        view = as_view(reader)
        found = info(view)
        if found is None:
            return "no transformer statistics recorded (a model with attention, watched)"
        if self.needs == "heads" and not found.attention:
            return "no attention module recognised"
        if self.needs == "blocks" and not found.blocks:
            return "no residual block recognised"
        if self.needs == "output" and not found.outputs:
            return "no output logits recorded"
        return super().missing(reader)

    @staticmethod
    def evidence_heads(rows: list[dict[str, Any]], limit: int = 12) -> list[dict[str, Any]]:
        """The ``limit`` most affected heads, as evidence."""
        return rows[:limit]
