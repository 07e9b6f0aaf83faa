"""Automatic diagnosis: rules that find training problems, name the layer and step, suggest a fix.

One rule per finding code (``rules/<code>.py``, listed in :data:`ALL_RULES`): ``nonfinite``,
``exploding_gradients``, ``vanishing_gradients``, ``dead_units``, ``saturated_activations``,
``no_gradient``, ``frozen_parameters``, ``unnormalized_inputs``, ``overfitting``,
``loss_plateau``, ``loss_oscillation``. Each rule's docstring states its mechanism, its
thresholds (fields of its ``Params``) with their source, the evidence keys and the suggestion.
Thresholds are tuned with ``config={"<code>.<param>": value}`` or, on the command line,
``deepscope diagnose RUN --set <code>.<param>=value``; ``<code>.enabled=false`` turns a rule off.

Rules read trends (medians over windows, shares of sampled steps), never a single sample, and
only the steps before the first non-finite value. When a cause is found, its symptoms
(``loss_plateau``, ``loss_oscillation``; saturated or dead units right after raw inputs) are kept
as ``info`` and point at the cause. Findings stored by live diagnosis
(``run.watch(model, diagnose=True)``, :mod:`deepscope.diagnose.live`) are merged in.

Example:
    >>> from deepscope.diagnose import diagnose  # doctest: +SKIP
    >>> cfg = {"dead_units.threshold": 0.6}
    >>> result = diagnose("deepscope-runs/broken", config=cfg)  # doctest: +SKIP
    >>> for f in result.findings:  # doctest: +SKIP
    ...     print(f.code, f.severity, f.layer, f.step, f.message, f.suggestion)

"""

from __future__ import annotations

from deepscope.diagnose.base import Finding, Rule, Severity
from deepscope.diagnose.diagnosis import Diagnosis
from deepscope.diagnose.engine import diagnose
from deepscope.diagnose.rules import ALL_RULES

__all__ = ["ALL_RULES", "Diagnosis", "Finding", "Rule", "Severity", "diagnose"]
