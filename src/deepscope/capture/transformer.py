"""The transformer part of a watch: attention heads, residual blocks, output logits, probe.

*Discovery* (the first sampled training forward): an :class:`~.attention.AttentionMode` is
active for the whole forward and hooks on every module keep a stack of the modules running, so
each attention call is attributed to the module that made it (``GPT2Attention``,
``BertSelfAttention``, ``LlamaAttention``, ``nn.MultiheadAttention``, or any module calling
``scaled_dot_product_attention`` or a softmax over the keys of 4-D scores). A model with none
is not a transformer: the capture switches itself off and costs nothing from then on.

Later sampled forwards: the mode is active only inside the recognised attention modules (their
pre-hook pushes it, an always-called post-hook pops it, also when the forward raises); residual
blocks get an output hook; the logits are read when the forward ends. Everything is a device
tensor handed to :meth:`StepStats.probe`, so it travels with the step's one transfer. Unsampled
steps run none of this.

The *probe* (``run.watch(model, probe=batch)``): at every few sampled steps the entry module runs
once more on a fixed batch, in eval mode without gradients (training flags restored), and the
attention probabilities of its first sequence are kept for the pattern view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.capture.attention import (
    PATTERN_TOKENS,
    AttentionMode,
    head_statistics,
    scores_of,
)
from deepscope.capture.blocks import block_of, logits_of, output_statistics, residual_statistics
from deepscope.capture.probe import call, probe_length, to_device
from deepscope.capture.stats import StepStats
from deepscope.capture.tensors import first_float_tensor
from deepscope.capture.wrappers import is_compiled, named_modules
from deepscope.store.schema import HEAD_FIELDS

#: Probes are taken at every ``PROBE_EVERY``-th sampled step; the spacing doubles after each
#: ``PROBE_DOUBLING`` probes, so a long run stores a logarithmic number of patterns.
PROBE_EVERY = 5
PROBE_DOUBLING = 16
#: Module class names that look like attention (listed as unrecognised when not seen).
_ATTENTION_WORDS = ("attention", "attn")


@dataclass
class _Attention:
    name: str
    module: nn.Module
    via: str
    heads: int
    block: str | None


@dataclass
class TransformerRows:
    """One sampled step of the transformer capture, for the writer."""

    heads: list[tuple[str, np.ndarray]] = field(default_factory=list)
    blocks: list[tuple[str, np.ndarray]] = field(default_factory=list)
    outputs: list[tuple[str, np.ndarray]] = field(default_factory=list)
    patterns: list[tuple[str, np.ndarray]] = field(default_factory=list)
    #: What was recognised, when it changed (the run merges it into its metadata).
    info: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        return bool(self.heads or self.blocks or self.outputs or self.patterns or self.info)


def _builtin_leaf(module: nn.Module) -> bool:
    return next(iter(module.children()), None) is None and \
        type(module).__module__.startswith("torch.nn")


class TransformerCapture:
    """Records attention, residual-stream and output-logit statistics of sampled forwards.

    Example:
        >>> from transformers import GPT2Config, GPT2LMHeadModel  # doctest: +SKIP
        >>> model = GPT2LMHeadModel(GPT2Config(n_layer=2))  # doctest: +SKIP
        >>> tx = TransformerCapture(model, "", "<root>")  # doctest: +SKIP

    """

    def __init__(self, model: nn.Module, prefix: str, root_name: str, *, compiled: bool = False,
                 probe: Any = None, tokens: Sequence[str] | None = None) -> None:
        self.model = model
        self.root_name = root_name
        self._prefix = prefix
        mods = list(named_modules(model))
        self._paths = {id(m): p for p, m in mods}
        self._by_path = dict(mods)
        hidden = {id(d) for m in model.modules() if m is not model and is_compiled(m)
                  for d in m.modules()}
        self._watchable = [m for _, m in mods if id(m) not in hidden and not _builtin_leaf(m)]
        self.compiled = compiled
        self.attention: dict[int, _Attention] = {}
        self.blocks: dict[str, nn.Module] = {}
        self.discovered = False
        self.active = True
        self.unrecognised: list[str] = []
        self.probe, self.tokens = probe, tokens
        self._probes_taken = 0
        self._sampled = 0
        self._next_probe = 0
        self._info_changed = False
        self._stats: StepStats | None = None
        self._mode: AttentionMode | None = None
        self._pushed = False
        self._stack: list[nn.Module] = []
        self._handles: list[Any] = []
        self._seen: set[int] = set()
        self._blocks_seen: set[str] = set()
        self._stash: dict[str, torch.Tensor] = {}
        self._patterns: dict[str, torch.Tensor] | None = None

    def name_of(self, module: nn.Module) -> str:
        """The layer name of ``module`` (watch prefix included, the root under its name)."""
        path = self._paths.get(id(module), "")
        return f"{self._prefix}{path}" if path else self.root_name

    # -- one sampled training forward -------------------------------------------------------
    def open(self, stats: StepStats, entry: nn.Module) -> None:
        """Start recording the forward of ``entry`` that begins now."""
        if not self.active:
            return
        self._stats, self._seen, self._blocks_seen = stats, set(), set()
        self._sampled += 1
        if self.compiled:
            return  # nothing inside compiled code is hooked; only the logits are read
        self._mode = AttentionMode(self._on_call)
        if not self.discovered:
            for mod in self._watchable:
                self._stack_hooks(mod, stash=self._candidate_block(mod))
            self._handles.append(entry.register_forward_hook(self._entry_done, always_call=True))
            self._push()
        else:
            for att in self.attention.values():
                self._stack_hooks(att.module, push=True)
            for name, block in self.blocks.items():
                self._handles.append(block.register_forward_hook(self._block_hook(name)))

    def close(self, output: Any) -> None:
        """End the forward: its logits, and (at discovery) what was found."""
        stats = self._stats
        if stats is None:
            return
        self._detach()
        if not self.discovered:
            self._discover_done(stats)
        logits = logits_of(output)
        if self.active and logits is not None:
            v = output_statistics(logits)
            if v is not None:
                stats.probe("tx:output", v)
        self._stats = None

    def rows(self, stats: StepStats) -> TransformerRows:
        """The step's rows from the host values of its probes (after ``stats.collect()``)."""
        rows = TransformerRows()
        fields = len(HEAD_FIELDS)
        for att in self.attention.values():
            v = stats.probes.get(f"tx:head:{att.name}")
            if v is not None:
                rows.heads.append((att.name, np.asarray(v, np.float64).reshape(-1, fields)))
        for name in self.blocks:
            v = stats.probes.get(f"tx:block:{name}")
            if v is not None:
                rows.blocks.append((name, np.asarray(v, np.float64)))
        v = stats.probes.get("tx:output")
        if v is not None:
            rows.outputs.append((self.root_name, np.asarray(v, np.float64)))
        if self._info_changed:
            self._info_changed = False
            rows.info = self.info()
        return rows

    # -- hooks -----------------------------------------------------------------------------
    def _stack_hooks(self, mod: nn.Module, *, stash: bool = False, push: bool = False) -> None:
        def pre(m: nn.Module, _args: Any) -> None:
            if self._stats is None and self._patterns is None:
                return
            self._stack.append(m)
            if push and len(self._stack) == 1:
                self._push()

        def post(m: nn.Module, _args: Any, out: Any) -> None:
            if self._stack and self._stack[-1] is m:
                self._stack.pop()
                if push and not self._stack:
                    self._pop()
            if stash and out is not None:
                t = first_float_tensor(out)
                if t is not None:
                    self._stash.setdefault(self._paths[id(m)], t)

        self._handles += [mod.register_forward_pre_hook(pre),
                          mod.register_forward_hook(post, always_call=True)]

    def _candidate_block(self, mod: nn.Module) -> bool:
        path = self._paths.get(id(mod), "")
        return bool(path) and block_of(path, self._by_path) == path

    def _block_hook(self, name: str) -> Callable[..., None]:
        def hook(_m: nn.Module, _args: Any, out: Any) -> None:
            stats = self._stats
            if stats is None or torch.compiler.is_compiling() or name in self._blocks_seen:
                return
            self._blocks_seen.add(name)
            t = first_float_tensor(out)
            v = residual_statistics(t) if t is not None else None
            if v is not None:
                stats.probe(f"tx:block:{name}", v)

        return hook

    def _entry_done(self, _m: nn.Module, _args: Any, _out: Any) -> None:
        """Always called when the entry's forward ends (also by an exception): pop the mode."""
        self._detach()

    def _push(self) -> None:
        if self._mode is not None and not self._pushed:
            self._mode.__enter__()
            self._pushed = True

    def _pop(self) -> None:
        if not self._pushed or self._mode is None:
            return
        self._pushed = False
        if torch.overrides._get_current_function_mode() is self._mode:
            self._mode.__exit__(None, None, None)
        else:  # another mode was pushed above ours and left there: stop observing, never pop it
            self._mode.enabled = False

    def _detach(self) -> None:
        self._pop()
        for h in self._handles:
            h.remove()
        self._handles = []
        self._stack = []

    def remove(self) -> None:
        """Remove every hook and pop the mode (idempotent)."""
        self._detach()
        self._stats = None
        self._patterns = None

    # -- attention calls -------------------------------------------------------------------
    def _on_call(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any
                 ) -> None:
        if torch.compiler.is_compiling():
            return
        module = self._stack[-1] if self._stack else None
        if module is None:
            return
        if self._patterns is not None:
            self._pattern_call(module, kind, args, kwargs, out)
            return
        stats = self._stats
        if stats is None or id(module) in self._seen:
            return
        if self.discovered and id(module) not in self.attention:
            return
        scores = scores_of(kind, args, kwargs, out)
        if scores is None:
            return
        self._seen.add(id(module))
        att = self.attention.get(id(module))
        if att is None:
            path = self._paths.get(id(module), "")
            block = block_of(path, self._by_path) if path else None
            att = _Attention(self.name_of(module), module, kind, int(scores.probs.shape[1]),
                             None if block is None else f"{self._prefix}{block}")
            self.attention[id(module)] = att
        stats.probe(f"tx:head:{att.name}", head_statistics(scores))

    def _discover_done(self, stats: StepStats) -> None:
        self.discovered = True
        if self.compiled or not self.attention:
            self.unrecognised = [self.name_of(m) for m in self.model.modules()
                                 if any(w in type(m).__name__.lower() for w in _ATTENTION_WORDS)
                                 ][:20]
            self.active = bool(self.compiled and self.unrecognised)
            self._info_changed = bool(self.unrecognised)
            self._stash.clear()
            return
        for att in self.attention.values():
            if att.block is not None and att.block not in self.blocks:
                self.blocks[att.block] = self._by_path[att.block[len(self._prefix):]]
        for name in self.blocks:
            t = self._stash.get(name[len(self._prefix):])
            v = residual_statistics(t) if t is not None else None
            if v is not None:
                stats.probe(f"tx:block:{name}", v)
        self._stash.clear()
        self._info_changed = True

    def info(self) -> dict[str, Any]:
        """What was recognised, in the shape of :class:`~deepscope.store.transformer_records.
        TransformerInfo`.
        """
        tokens = None if self.tokens is None else [str(t) for t in self.tokens][:PATTERN_TOKENS]
        return {
            "attention": [{"name": a.name, "type": type(a.module).__name__, "heads": a.heads,
                           "via": a.via, "block": a.block} for a in self.attention.values()],
            "blocks": list(self.blocks),
            "outputs": [self.root_name] if self.active else [],
            "unrecognised": list(self.unrecognised),
            "probe_tokens": tokens,
            "probe_length": probe_length(self.probe) if self.probe is not None else None,
            "note": ("compiled model: attention and residual blocks inside compiled code are not "
                     "recorded, only the output logits") if self.compiled else None,
        }

    # -- the probe batch -------------------------------------------------------------------
    def probe_due(self) -> bool:
        """Whether this sampled step takes a probe pattern (see :data:`PROBE_EVERY`)."""
        if self.probe is None or not self.attention or self.compiled:
            return False
        if self._sampled - 1 < self._next_probe:
            return False
        spacing = PROBE_EVERY * 2 ** (self._probes_taken // PROBE_DOUBLING)
        self._next_probe = self._sampled - 1 + spacing
        return True

    def patterns(self, runner: nn.Module) -> list[tuple[str, np.ndarray]]:
        """Run ``runner`` on the probe batch (eval, no grad) and return each module's pattern."""
        self._probes_taken += 1
        self._patterns = {}
        self._mode = AttentionMode(self._on_call)
        for att in self.attention.values():
            self._stack_hooks(att.module, push=True)
        flags = [(m, m.training) for m in runner.modules()]
        try:
            runner.eval()
            device = next((p.device for p in runner.parameters()), torch.device("cpu"))
            with torch.no_grad():
                call(runner, to_device(self.probe, device))
            got = self._patterns
        finally:
            for m, training in flags:
                m.training = training
            self._detach()
            self._patterns = None
        if not got:
            return []
        names = list(got)
        host = torch.cat([got[n].reshape(-1) for n in names]).cpu().numpy()
        out, off = [], 0
        for n in names:
            size = got[n].numel()
            out.append((n, host[off : off + size].reshape(got[n].shape)))
            off += size
        return out

    def _pattern_call(self, module: nn.Module, kind: str, args: tuple[Any, ...],
                      kwargs: dict[str, Any], out: Any) -> None:
        att = self.attention.get(id(module))
        if att is None or self._patterns is None or att.name in self._patterns:
            return
        scores = scores_of(kind, args, kwargs, out, pattern=True)
        if scores is not None:
            self._patterns[att.name] = scores.probs[0]


def merge_info(infos: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """One run-level info from the infos of several watches (names already carry prefixes)."""
    out: dict[str, Any] = {"attention": [], "blocks": [], "outputs": [], "unrecognised": [],
                           "probe_tokens": None, "probe_length": None, "note": None}
    for info in infos.values():
        for key in ("attention", "blocks", "outputs", "unrecognised"):
            out[key] += info.get(key) or []
        for key in ("probe_tokens", "probe_length", "note"):
            if out[key] is None:
                out[key] = info.get(key)
    return out
