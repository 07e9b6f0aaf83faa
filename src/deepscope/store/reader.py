"""The read contract between stored runs and everything that shows or judges them.

Diagnosis, the server, the report and the plots ask a :class:`RunReader`; none of them touches
files. A second backend is one new reader/writer pair.

Contract:
    * Every method returns frozen records (:mod:`deepscope.store.records`) or plain JSON-able
      values; arrays are numpy (steps ``int64``, values ``float64``, NaN = not recorded).
    * Downsampling (``max_points``) is deterministic, keeps the first and last point and, per
      bucket, the minimum and maximum, so spikes survive.
    * Errors: :class:`~deepscope.errors.RunNotFoundError` (not a run),
      :class:`~deepscope.errors.CorruptRunError` (unreadable),
      :class:`~deepscope.errors.RunVersionError` (newer schema),
      :class:`~deepscope.errors.NotRecordedError` (tag, layer or kind not captured; the message
      says how to enable it), :class:`~deepscope.errors.InvalidArgumentError` (bad argument).
    * A reader can be opened while a writer is writing; each call sees the latest flushed data.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepscope.errors import NotRecordedError
from deepscope.store.records import (
    Artifact,
    ArtifactInfo,
    Event,
    HistogramSeries,
    LayerInfo,
    RunMeta,
    ScalarSeries,
    StatMatrix,
    StatSeries,
)
from deepscope.store.transformer_records import (
    AttentionPattern,
    HeadMatrix,
    OutputSeries,
    TransformerInfo,
)

#: Why a run has no transformer statistics, and how to get them.
NO_TRANSFORMER = ("no transformer statistics recorded in this run (enable with run.watch(model) "
                  "on a model with attention modules; transformer=True is the default)")
NO_PROBE = ("no attention patterns recorded in this run (enable with "
            "run.watch(model, probe=batch, tokens=[...]))")


class RunReader(ABC):
    """Read-only view of one run. Use as a context manager or call :meth:`close`.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> with ds.open_run("deepscope-runs/cnn-20261122-101500-ab12") as r:  # doctest: +SKIP
        ...     loss = r.scalars("train/loss", max_points=500)
        ...     grads = r.stat_matrix("grad", "norm")

    """

    path: str

    @abstractmethod
    def meta(self) -> RunMeta:
        """Name, config, status (``crashed`` when the writing process died), versions."""

    @abstractmethod
    def scalar_tags(self) -> list[str]:
        """Logged scalar tags, sorted."""

    @abstractmethod
    def scalars(
        self,
        tag: str,
        *,
        max_points: int | None = None,
        start: int | None = None,
        end: int | None = None,
    ) -> ScalarSeries:
        """One tag, sorted by step (a step logged twice keeps its last value), optionally within
        ``[start, end]`` and downsampled to at most ``max_points`` points.
        """

    @abstractmethod
    def layers(self) -> list[LayerInfo]:
        """Watched layers in forward order."""

    def num_layers(self) -> int:
        """How many layers :meth:`layers` returns (backends may answer without decoding them)."""
        return len(self.layers())

    @abstractmethod
    def stat_kinds(self) -> list[str]:
        """Kinds (see :data:`~deepscope.store.schema.STAT_KINDS`) with at least one row."""

    @abstractmethod
    def stat_steps(self, kind: str | None = None) -> np.ndarray:
        """Sampled steps that have statistics (of ``kind`` if given), sorted."""

    @abstractmethod
    def stat_series(
        self,
        layer: str,
        kind: str,
        fields: Sequence[str] | None = None,
        *,
        max_points: int | None = None,
    ) -> StatSeries:
        """Statistics of one layer and kind over steps (all :data:`STAT_FIELDS` by default)."""

    @abstractmethod
    def stat_matrix(
        self,
        kind: str,
        field: str,
        *,
        layers: Sequence[str] | None = None,
        max_steps: int | None = None,
    ) -> StatMatrix:
        """One field for many layers over steps (layers in forward order)."""

    @abstractmethod
    def histograms(self, layer: str, kind: str, *, max_steps: int | None = None) -> HistogramSeries:
        """Histograms of one layer and kind over steps (evenly thinned to ``max_steps``)."""

    @abstractmethod
    def graph(self) -> dict[str, Any] | None:
        """The stored architecture graph (``Graph.to_dict()`` shape), or None."""

    @abstractmethod
    def findings(self) -> list[dict[str, Any]]:
        """Findings stored by live diagnosis (code, severity, layer, step, message, suggestion,
        evidence, source).
        """

    @abstractmethod
    def events(self, kind: str | None = None) -> list[Event]:
        """Events in write order (e.g. ``nonfinite``)."""

    @abstractmethod
    def artifacts(self, kind: str | None = None) -> list[ArtifactInfo]:
        """Stored explain results, newest last."""

    @abstractmethod
    def artifact(self, artifact_id: int) -> Artifact:
        """One artifact with its data and blobs."""

    # -- transformer capture (runs without it raise NotRecordedError) ----------------------
    def transformer_info(self) -> TransformerInfo:
        """Attention modules, residual blocks and outputs the transformer capture recognised."""
        raise NotRecordedError(NO_TRANSFORMER)

    def head_matrix(self, field: str, *, max_steps: int | None = None) -> HeadMatrix:
        """One :data:`~deepscope.store.schema.HEAD_FIELDS` statistic of every head over (evenly
        thinned) sampled steps, modules in forward order.
        """
        raise NotRecordedError(NO_TRANSFORMER)

    def block_matrix(self, field: str, *, max_steps: int | None = None) -> StatMatrix:
        """One :data:`~deepscope.store.schema.BLOCK_FIELDS` statistic of every residual block
        over (evenly thinned) sampled steps (``kind`` is ``"block"``).
        """
        raise NotRecordedError(NO_TRANSFORMER)

    def output_series(self, watch: str | None = None, *, max_points: int | None = None
                      ) -> OutputSeries:
        """Output-logit statistics of one watch (the first by default), min/max downsampled."""
        raise NotRecordedError(NO_TRANSFORMER)

    def attention_pattern(self, module: str, step: int | None = None, head: int | None = None
                          ) -> AttentionPattern:
        """The probe batch's attention pattern of ``module`` at ``step`` (the stored step
        nearest to it; the latest when None), all heads or one.
        """
        raise NotRecordedError(NO_PROBE)

    @abstractmethod
    def data_version(self, part: str | None = None) -> int:
        """A number that grows whenever new data is flushed (for live updates and caches).

        ``part`` (one of :data:`~deepscope.store.schema.VERSION_PARTS`) limits it to that
        part, so an answer about statistics stays valid while scalars are being logged. A
        heartbeat alone never changes it.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the database connection."""

    def __enter__(self) -> RunReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _repr_html_(self) -> str:
        from deepscope.integrations.notebook import reader_html

        return reader_html(self)
