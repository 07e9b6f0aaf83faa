"""The watches of one run: one :class:`~deepscope.capture.watcher.Watcher` per watched model.

Keeps the run's record of them in step: the layers (refreshed while the first steps reveal the
forward order), the ``watch``/``watches`` metadata, one combined architecture graph for every
watched model, and the ``nothing_captured`` finding of a watch that never saw a training forward.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from deepscope.capture.signals import nothing_captured
from deepscope.capture.transformer import merge_info
from deepscope.capture.watcher import Watcher
from deepscope.capture.wrappers import unwrap_module

#: A watch that has seen no training forward by this many ``log`` calls is reported.
NOTHING_AFTER_LOGS = 50


class Watches:
    """The watchers of one run, by watch name (``""`` for an unnamed watch)."""

    def __init__(self, writer: Any, events: Any) -> None:
        self._writer, self._events = writer, events
        self.by_key: dict[str, Watcher] = {}
        self._meta: dict[str, dict[str, Any]] = {}
        self._graphs: dict[str, tuple[str, dict[str, Any]]] = {}
        self._reported: set[str] = set()
        self._transformer_info: dict[str, dict[str, Any]] = {}

    @property
    def first(self) -> Watcher | None:
        """The first watch (the one ``run.step`` and ``run.log`` follow)."""
        return next(iter(self.by_key.values()), None)

    def add(self, key: str, watcher: Watcher, info: dict[str, Any]) -> None:
        self.by_key[key] = watcher
        self._writer.set_layers(watcher.layer_infos())
        self._meta[key] = {
            **info,
            "optimizer": type(watcher.optimizer).__name__ if watcher.optimizer else None,
            "model": type(watcher.model).__name__,
            "compiled": watcher.compiled,
        }
        self._writer.update_meta(watch=self._meta.get("", self._meta[key]),
                                 watches=dict(self._meta))

    def remove(self, key: str, log_calls: int) -> None:
        """Close one watch (its pending statistics are written)."""
        w = self.by_key.pop(key, None)
        if w is not None:
            self.check_captured(w, log_calls, final=True)
            w.close()
            self._writer.set_layers(w.layer_infos())

    def write_stats(self, step: int, rows: list, hists: list) -> None:
        """The sink of every watcher: statistics rows, histograms, and the layers' order."""
        self._writer.log_stats(step, rows)
        if hists:
            self._writer.log_histograms(step, hists)
        if step <= 2:
            for w in self.by_key.values():
                self._writer.set_layers(w.layer_infos())

    def write_transformer(self, key: str, step: int, rows: Any) -> None:
        """A watch's transformer statistics of one step, and what it recognised when it says."""
        self._writer.log_transformer(step, rows.heads, rows.blocks, rows.outputs, rows.patterns)
        if rows.info is not None:
            self._transformer_info[key] = rows.info
            self._writer.update_meta(transformer=merge_info(self._transformer_info))

    def record_graph(self, key: str, module: nn.Module, path: str, args: tuple[Any, ...],
                     kwargs: dict[str, Any]) -> None:
        """The graph of the module a watch's first training forward entered, under its names."""
        try:
            from deepscope.graph import build_graph
            from deepscope.graph.combine import combine_graphs

            graph = build_graph(unwrap_module(module), args,
                                example_kwargs=kwargs or None).to_dict()
            self._graphs[key] = (".".join(p for p in (key, path) if p), graph)
            self._writer.set_graph(combine_graphs(list(self._graphs.values())))
        except Exception as err:  # noqa: BLE001 - the graph is optional, training must go on
            self._writer.add_event(
                "graph_failed", 0, None, {"error": f"{type(err).__name__}: {err}"}
            )

    def graph_given(self) -> None:
        """``run.log_graph`` stored a graph: no watch records one."""
        for w in self.by_key.values():
            w._graph_pending = False

    def check_captured(self, watcher: Watcher, log_calls: int, final: bool = False) -> None:
        """A watch that saw no training forward must say so (never a silent empty run)."""
        key = watcher.name or ""
        seen = watcher.training_forwards or (watcher.optimizer_steps and not watcher.hookable)
        if seen or key in self._reported:
            return
        if not final and log_calls < NOTHING_AFTER_LOGS:
            return
        self._reported.add(key)
        self._events.report(nothing_captured(watcher, log_calls))
