"""``train_in_eval_mode``: training steps while the model (or its Dropout) is in eval mode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepscope.diagnose.base import EventRule, Finding
from deepscope.diagnose.view import RunView
from deepscope.store.records import Event, LayerInfo


class TrainInEvalMode(EventRule):
    """``model.eval()`` left on while training: Dropout is off, BatchNorm uses stale statistics.

    Mechanism: capture records an ``eval_mode`` event when a sampled step's training forward ran
    with the root module, or some Dropout / running-statistics normalisation module, in eval mode
    (counts and names in the data). A forgotten ``model.train()`` sticks, so the rule needs eval
    mode on ``min_run`` consecutive sampled steps: an evaluation pass run with gradients enabled (no
    ``torch.no_grad``) at the start of a step is seen alone, between training-mode samples
    (measured: on healthy runs, isolated events or frozen BatchNorm statistics only; on buggy ones,
    4-8 sampled steps in a row, every one from the bug on). Such a pass at the top of *every*
    sampled step (validating every 10 steps with ``every=10``) cannot be told apart from the bug.
    Then:

    * the root in eval mode is a ``warning`` (the whole model: also every ``self.training`` check
      in custom code, e.g. transformers' gradient checkpointing and attention dropout);
    * a Dropout in eval mode inside a part of the model that trains is a ``warning``;
    * only normalisation modules in eval mode (frozen BatchNorm statistics, a fine-tuning recipe)
      or only modules of frozen parts (``backbone.eval()``) is ``info``: usually deliberate.

    Live: judged at each live check on the events and sampled steps so far. Evidence: ``steps``,
    ``root_eval``, ``modules``, ``dropout_eval``/``dropout_total``, ``norm_eval``/``norm_total``,
    ``run`` (consecutive sampled steps in eval mode). Suggestion: call ``model.train()`` after
    evaluation.

    Example:
        >>> TrainInEvalMode.Params().min_run
        2

    """

    code = "train_in_eval_mode"
    event = "eval_mode"
    #: The run criterion needs the sampled steps: judged in ``LiveMonitor.check``, not on events.
    live_from_events = False

    @dataclass(frozen=True)
    class Params:
        """Thresholds.

        Attributes:
            min_run: consecutive sampled steps in eval mode needed (an evaluation forward with
                gradients enabled at the top of a step is one isolated sample).

        """

        min_run: int = 2

    def judge(
        self, view: RunView | None, events: list[Event], sampled: np.ndarray | None
    ) -> list[Finding]:
        steps = [int(e.step) for e in events]
        all_steps = np.union1d(sampled if sampled is not None else [], steps).astype(int)
        run, start = _longest_run(all_steps, set(steps))
        if run < self.params.min_run:
            return []
        hit = [e for e in events if int(e.step) >= start][:run]
        first = hit[0]
        data = dict(first.data)
        root_eval = any(bool(e.data.get("root_eval")) for e in hit)
        infos = {i.name: i for i in view.layers()} if view is not None else {}
        dropout = _training_dropouts(data.get("modules", []), infos)
        severity = "warning" if root_eval or dropout else "info"
        evidence = {"steps": steps[:20], "run": run, "root_eval": root_eval,
                    **{k: data.get(k) for k in ("modules", "dropout_eval", "dropout_total",
                                                "norm_eval", "norm_total")}}
        message, suggestion = _texts(root_eval, dropout, data, run, int(first.step))
        layer = None if root_eval else first.layer
        return [self.finding(severity, layer, int(first.step), message, evidence, suggestion)]


def _longest_run(sampled: np.ndarray, hits: set[int]) -> tuple[int, int]:
    """Longest run of consecutive sampled steps that are all in ``hits``: (length, first step)."""
    best, best_start, cur, cur_start = 0, 0, 0, 0
    for s in sampled.tolist():
        if s in hits:
            cur_start = s if cur == 0 else cur_start
            cur += 1
            if cur > best:
                best, best_start = cur, cur_start
        else:
            cur = 0
    return best, best_start


def _training_dropouts(modules: list[str], infos: dict[str, LayerInfo]) -> list[str]:
    """Dropout modules in eval mode whose enclosing module has parameters that train."""
    out = []
    for name in modules:
        info = infos.get(name)
        if info is None or "Dropout" not in info.type:
            continue
        parent = name.rsplit(".", 1)[0] if "." in name else ""
        if any(i.trainable_params > 0 and (not parent or i.name.startswith(parent + "."))
               for i in infos.values()):
            out.append(name)
    return out


def _counts(data: dict[str, Any]) -> str:
    parts = [f"{data.get(k + '_eval', 0)} of {data.get(k + '_total', 0)} {label}"
             for k, label in (("dropout", "Dropout"), ("norm", "BatchNorm-like"))
             if data.get(k + "_total")]
    return " and ".join(parts) + " modules in eval mode" if parts else "no Dropout or BatchNorm"


def _texts(root_eval: bool, dropout: list[str], data: dict[str, Any], run: int,
           step: int) -> tuple[str, str]:
    counts = _counts(data)
    if root_eval:
        effects = [e for k, e in (("dropout_total", "Dropout is off"),
                                  ("norm_total", "BatchNorm uses its running statistics"))
                   if data.get(k)]
        effect = " and ".join(effects) or (
            "every self.training branch (attention dropout, gradient checkpointing) takes its "
            "inference path")
        message = (f"the model trains in eval mode from step {step} ({run} sampled steps in a "
                   f"row; {counts}): {effect}")
        return message, "call model.train() after evaluation (before the next training step)"
    if dropout:
        message = (f"{', '.join(repr(d) for d in dropout[:3])} stay in eval mode while the model "
                   f"trains ({counts}, {run} sampled steps in a row): that part trains without "
                   "dropout")
        return message, (f"call model.train() after evaluation, or train() on the submodule "
                         f"holding {dropout[0]!r}; use p=0 if dropout is meant to be off")
    message = (f"{counts} while the model trains ({run} sampled steps in a row): frozen "
               "statistics, as when fine-tuning with frozen BatchNorm")
    return message, ("nothing to do if the freeze is intended; otherwise call model.train() "
                     "after evaluation")
