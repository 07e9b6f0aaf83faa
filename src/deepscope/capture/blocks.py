"""Residual blocks of a transformer and the statistics of their outputs and of the logits.

A *block* is the repeated layer that holds an attention module: the closest ancestor of the
attention module that is an item of an ``nn.ModuleList`` / ``nn.Sequential`` (``transformer.h.3``
in GPT-2, ``encoder.layers.0`` in ``nn.TransformerEncoder``). Its output is the residual stream
after it. Statistics look at a bounded slice (the first :data:`ROWS` token vectors; the median
from a fixed strided sample) and stay on the device until the step's one transfer.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepscope.capture.tensors import LOGITS_FIELDS, _field

#: Token vectors of a block output the statistics look at.
ROWS = 1024
#: Elements the median of |activation| is taken from (a fixed strided sample beyond this).
MEDIAN_SAMPLE = 65536
#: Positions of the output logits the log-partition is computed over.
OUTPUT_ROWS = 128


def block_of(path: str, containers: dict[str, nn.Module]) -> str | None:
    """The block holding the module at ``path``: its closest ancestor that is a list item."""
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        if parts[i].isdigit() and isinstance(containers.get(".".join(parts[:i])),
                                              (nn.ModuleList, nn.Sequential)):
            return ".".join(parts[: i + 1])
    return None


def residual_statistics(x: torch.Tensor) -> torch.Tensor | None:
    """``[norm, max_abs, median_abs, outlier_ratio, channel]`` (BLOCK_FIELDS) of a block output.

    Example:
        >>> x = torch.ones(2, 3, 4); x[0, 1, 2] = 50.0
        >>> residual_statistics(x).tolist()[1:]
        [50.0, 1.0, 50.0, 2.0]

    """
    if x.dim() < 2 or not x.is_floating_point() or x.shape[-1] < 2:
        return None
    with torch.no_grad():
        rows = x.detach().reshape(-1, x.shape[-1])[:ROWS].float()
        a = rows.abs().reshape(-1)
        peak, where = a.max(0)
        stride = max(1, a.numel() // MEDIAN_SAMPLE)
        median = a[::stride].median()
        return torch.stack([
            rows.norm(dim=-1).mean(),
            peak,
            median,
            peak / median,
            (where % rows.shape[-1]).float(),
        ])


def logits_of(output: Any) -> torch.Tensor | None:
    """The output's logits: a bare tensor or a ``logits``-like field (not hidden states)."""
    if isinstance(output, torch.Tensor):
        return output if output.is_floating_point() else None
    for name in LOGITS_FIELDS:
        t = _field(output, name)
        if isinstance(t, torch.Tensor) and t.is_floating_point() and "hidden" not in name:
            return t
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return logits_of(output[0])
    return None


def output_statistics(logits: torch.Tensor) -> torch.Tensor | None:
    """``[max_logit, logit_mean, lse_mean, lse_min, lse_max, lse_sq_mean, width]``
    (OUTPUT_FIELDS) of the logits.

    Example:
        >>> [round(v, 3) for v in output_statistics(torch.zeros(4, 8)).tolist()]
        [0.0, 0.0, 2.079, 2.079, 2.079, 4.324, 8.0]

    """
    if logits.dim() < 2 or logits.shape[-1] < 2:
        return None
    with torch.no_grad():
        rows = logits.detach().reshape(-1, logits.shape[-1])[:OUTPUT_ROWS].float()
        z = rows.logsumexp(-1)
        width = rows.new_tensor(float(rows.shape[-1]))
        return torch.stack([rows.max(), rows.mean(), z.mean(), z.min(), z.max(), (z * z).mean(),
                            width])
