"""Automatic diagnosis: rules that find training problems, name the layer and step, suggest a fix.

Example:
    >>> from deepscope.diagnose import diagnose  # doctest: +SKIP
    >>> for f in diagnose("deepscope-runs/broken").findings:  # doctest: +SKIP
    ...     print(f.code, f.layer, f.step, f.suggestion)

"""

from __future__ import annotations

from deepscope.diagnose.base import Finding, Rule, Severity
from deepscope.diagnose.diagnosis import Diagnosis
from deepscope.diagnose.engine import diagnose
from deepscope.diagnose.rules import ALL_RULES

__all__ = ["ALL_RULES", "Diagnosis", "Finding", "Rule", "Severity", "diagnose"]
