"""Which watched module a training forward goes through first: the *entry*.

The root normally; a submodule when the training code calls that directly (a LightningModule
whose ``training_step`` calls ``self.net(x)``, a ``ModuleDict`` of models). The entry is fixed
at the end of the first optimizer step (or after :data:`DECIDE_AFTER_FORWARDS` training
forwards without one): the root if it ran, else the submodule that ran most. Until then, probe
hooks on every submodule let any outermost training forward count; after, only the entry has
hooks (two per step).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from deepscope.capture.wrappers import named_modules

#: Without an optimizer, the entry is fixed after this many outermost training forwards.
DECIDE_AFTER_FORWARDS = 3

Begin = Callable[[nn.Module, str, tuple[Any, ...], dict[str, Any]], bool]
End = Callable[[nn.Module, str, tuple[Any, ...], dict[str, Any], Any], None]


class EntryHooks:
    """Forward hooks that find the entry and report its forwards to ``begin`` / ``end``.

    ``begin(module, path, args, kwargs)`` returns whether this forward is a training forward
    (then ``end(module, path, args, kwargs, output)`` follows it). ``busy()`` silences the hooks
    while the owner runs the model itself (graph recording, NaN replay).
    """

    def __init__(self, outer: nn.Module, model: nn.Module, *, begin: Begin, end: End,
                 busy: Callable[[], bool], hookable: bool, probe: bool) -> None:
        self.outer, self.model = outer, model
        self._begin, self._end, self._busy = begin, end, busy
        self.entry: nn.Module = outer
        #: Path of the entry inside the model ("" for the root).
        self.path = ""
        self.root_ran = False
        self._active: nn.Module | None = None
        self._active_path = ""
        self._handles: list[Any] = []
        self._probes: list[Any] = []
        self._probe_paths: dict[int, str] = {}
        self._probe_calls: dict[str, int] = {}
        #: Set by the owner during a forward: :meth:`fix` runs when that forward ends.
        self.fix_pending = False
        if hookable:
            self._attach(outer)
        if probe:
            self._attach_probes()

    @property
    def probing(self) -> bool:
        return bool(self._probes)

    def _attach(self, module: nn.Module) -> None:
        for h in self._handles:
            h.remove()
        self.entry = module
        self._handles = [
            module.register_forward_pre_hook(self._entry_pre, with_kwargs=True),
            module.register_forward_hook(self._post, with_kwargs=True),
        ]

    def _attach_probes(self) -> None:
        for path, mod in named_modules(self.model):
            if mod is not self.model:
                self._probe_paths[id(mod)] = path
                self._probes += [
                    mod.register_forward_pre_hook(self._probe_pre, with_kwargs=True),
                    mod.register_forward_hook(self._post, with_kwargs=True),
                ]

    def _remove_probes(self) -> None:
        for h in self._probes:
            h.remove()
        self._probes = []

    def _idle(self) -> bool:
        return self._active is None and not self._busy() and not torch.compiler.is_compiling()

    def _entry_pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not self._idle():
            return
        if module is self.outer and torch.is_grad_enabled():
            self.root_ran = True
        self._start(module, self.path, args, kwargs)
        if self._probes and self.root_ran and self._active is module:
            self._remove_probes()

    def _probe_pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if not self._idle():
            return
        path = self._probe_paths.get(id(module), "")
        if self._start(module, path, args, kwargs):
            self._probe_calls[path] = self._probe_calls.get(path, 0) + 1

    def _start(self, module: nn.Module, path: str, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> bool:
        if self._begin(module, path, args, kwargs):
            self._active, self._active_path = module, path
            return True
        return False

    def _post(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any],
              output: Any) -> None:
        if module is not self._active or self._busy() or torch.compiler.is_compiling():
            return
        self._active = None
        self._end(module, self._active_path, args, kwargs, output)
        if self.fix_pending:
            self.fix_pending = False
            self.fix()

    def forwards_seen(self) -> int:
        return sum(self._probe_calls.values())

    def fix(self) -> None:
        """Stop probing: the root if it ran a training forward, else the busiest submodule."""
        if not self._probes:
            return
        if not self.root_ran and self._probe_calls:
            path = max(self._probe_calls, key=lambda n: (self._probe_calls[n], -n.count(".")))
            self.path = path
            self._attach(dict(named_modules(self.model))[path])
        if self.root_ran or self._probe_calls:
            self._remove_probes()

    def remove(self) -> None:
        self._remove_probes()
        for h in self._handles:
            h.remove()
        self._handles = []
