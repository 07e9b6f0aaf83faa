"""Run every rule on a run and combine the result with what live diagnosis stored.

Configuration is a flat or nested dict of rule parameters: ``{"dead_units.threshold": 0.6}`` or
``{"dead_units": {"threshold": 0.6}}``; ``"<code>.enabled": False`` switches a rule off.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepscope.diagnose.base import EventRule, Finding, Rule, severity_rank
from deepscope.diagnose.diagnosis import Diagnosis
from deepscope.diagnose.rules import ALL_RULES, RULES_BY_CODE
from deepscope.diagnose.view import RunView
from deepscope.errors import (
    CorruptRunError,
    DeepscopeError,
    InvalidArgumentError,
    RunAccessError,
)
from deepscope.store import open_reader
from deepscope.store.reader import RunReader

#: Symptoms and the causes that explain them: when a cause is found at warning or above, the
#: symptom is still reported, as ``info``, pointing at its cause (one root cause, one warning).
#: Carried gradients grow step after step (explosion, instability, units killed by huge
#: steps); updates that round away and flattened softmax gradients stall the loss; memorised
#: noise labels make the validation loss rise or swing; a model left in eval mode trains
#: without dropout.
SYMPTOMS: dict[str, tuple[str, ...]] = {
    "loss_plateau": ("nonfinite", "vanishing_gradients", "dead_units", "no_gradient",
                     "saturated_activations", "frozen_parameters", "exploding_gradients",
                     "update_underflow", "gradients_not_zeroed", "double_softmax"),
    "loss_oscillation": ("nonfinite", "exploding_gradients", "gradients_not_zeroed",
                         "no_generalization"),
    "loss_spikes": ("nonfinite", "exploding_gradients", "gradients_not_zeroed",
                    "loss_oscillation"),
    "exploding_gradients": ("gradients_not_zeroed",),
    "dead_units": ("gradients_not_zeroed",),
    "overfitting": ("no_generalization", "train_in_eval_mode"),
}
#: Symptoms of normalisation layers left in eval mode (see ``_causes``).
_UNNORMALISED: frozenset[str] = frozenset({"dead_units", "loss_plateau", "loss_oscillation",
                                           "exploding_gradients", "saturated_activations"})


def _coerce(value: Any, default: Any, key: str) -> Any:
    """Values from the CLI arrive as strings: convert them to the parameter's type."""
    kind = type(default)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    try:
        if kind is bool:
            text = str(value).strip().lower()
            if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(text)
            return text in ("1", "true", "yes", "on")
        if kind is int:
            return int(float(value)) if float(value).is_integer() else int(value)
        return kind(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"diagnosis option {key!r} expects a {kind.__name__}, got {value!r}"
        ) from None


def parse_config(config: Mapping[str, Any] | None) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Validate a config into ``({code: {param: value}}, disabled codes)``.

    Example:
        >>> parse_config({"dead_units.threshold": "0.6", "overfitting": {"enabled": False}})
        ({'dead_units': {'threshold': 0.6}}, {'overfitting'})

    """
    if config is None:
        return {}, set()
    if not isinstance(config, Mapping):
        raise InvalidArgumentError(
            "diagnosis config must be a dict like {'dead_units.threshold': 0.6}"
        )
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[str(key)] = value
    overrides: dict[str, dict[str, Any]] = {}
    disabled: set[str] = set()
    for key, value in flat.items():
        code, _, param = key.partition(".")
        if code not in RULES_BY_CODE:
            raise InvalidArgumentError(
                f"unknown diagnosis rule {code!r} in option {key!r}; rules: "
                + ", ".join(RULES_BY_CODE)
            )
        fields = {f.name: f for f in dataclasses.fields(RULES_BY_CODE[code].Params)}
        if param == "enabled":
            if not _coerce(value, True, key):
                disabled.add(code)
            continue
        if param not in fields:
            names = ", ".join(["enabled", *fields]) or "enabled"
            raise InvalidArgumentError(f"unknown option {key!r}; {code} accepts: {names}")
        default = getattr(RULES_BY_CODE[code].Params(), param)
        overrides.setdefault(code, {})[param] = _coerce(value, default, key)
    return overrides, disabled


def build_rules(config: Mapping[str, Any] | None = None) -> list[Rule]:
    """Instances of every enabled rule with the configured parameters.

    Example:
        >>> [r.code for r in build_rules({"overfitting.enabled": False})][:2]
        ['nonfinite', 'exploding_gradients']

    """
    overrides, disabled = parse_config(config)
    return [cls.with_overrides(overrides.get(cls.code, {})) for cls in ALL_RULES
            if cls.code not in disabled]


def _open(run_or_path: Any) -> tuple[RunReader, bool]:
    """A reader for a path, a reader, or an object with ``.path`` (a Run); True when we own it."""
    if isinstance(run_or_path, (RunReader, RunView)):
        return (run_or_path.reader if isinstance(run_or_path, RunView) else run_or_path), False
    path = getattr(run_or_path, "path", run_or_path)
    if not isinstance(path, (str, Path)):
        raise InvalidArgumentError(
            f"diagnose() needs a run directory, a Run or a reader, got {type(run_or_path).__name__}"
        )
    flush = getattr(run_or_path, "flush", None)
    if callable(flush) and not isinstance(run_or_path, (str, Path)):
        try:
            flush()
        except DeepscopeError:
            pass
    return open_reader(path), True


def run_rules(view: RunView, rules: list[Rule]) -> tuple[list[Finding], dict[str, str]]:
    """Findings of every rule that has its data, and why the others were skipped."""
    findings: list[Finding] = []
    skipped: dict[str, str] = {}
    for rule in rules:
        try:
            why = rule.missing(view)
            if why is None:
                findings.extend(rule.check(view))
        except (CorruptRunError, RunAccessError):
            raise  # a run that cannot be read cannot be judged healthy: say so, never skip
        except DeepscopeError as err:
            why = str(err)
        except Exception as err:  # noqa: BLE001 - one broken rule must not hide the others
            why = f"rule failed: {type(err).__name__}: {err}"
        if why is not None:
            skipped[rule.code] = why
    return findings, skipped


def _causes(f: Finding, serious: dict[str, Finding]) -> list[Finding]:
    causes = [serious[c] for c in SYMPTOMS.get(f.code, ()) if c in serious]
    # Raw inputs saturate, or kill from the first step, the units right after the first layer:
    # that is the input's problem, not the layer's (units that died later point at the lr).
    at_input = f.evidence.get("first_after_input") and f.evidence.get("from_start", True)
    if at_input and "unnormalized_inputs" in serious:
        causes.append(serious["unnormalized_inputs"])
    # BatchNorm in eval mode normalises with its initial running statistics, so the network
    # trains unnormalised: dead units, a stalled or unstable loss follow from that.
    eval_mode = serious.get("train_in_eval_mode")
    if (f.code in _UNNORMALISED and eval_mode is not None
            and (eval_mode.evidence.get("norm_eval") or 0) > 0):
        causes.append(eval_mode)
    # Parameters in the optimizer that never change: in bf16 that is the underflow, not lr 0.
    if (f.code == "frozen_parameters" and f.evidence.get("in_optimizer") is not False
            and "update_underflow" in serious):
        causes.append(serious["update_underflow"])
    return causes


def _root_cause(f: Finding, serious: dict[str, Finding]) -> Finding | None:
    """The cause a symptom points at, followed to its root (a cause explained by another)."""
    seen = {f.code}
    cause = None
    causes = _causes(f, serious)
    while causes:
        cause = causes[0]
        seen.add(cause.code)
        causes = [c for c in _causes(cause, serious) if c.code not in seen]
    return cause


def explain_symptoms(findings: list[Finding]) -> list[Finding]:
    """Demote symptoms to ``info`` when their cause was found (see :data:`SYMPTOMS`)."""
    serious: dict[str, Finding] = {}
    for f in findings:
        if severity_rank(f.severity) >= 1:
            serious.setdefault(f.code, f)
    out = []
    for f in findings:
        cause = _root_cause(f, serious) if severity_rank(f.severity) >= 1 else None
        if cause is not None:
            where = f" in {cause.layer!r}" if cause.layer else ""
            f = dataclasses.replace(
                f, severity="info",
                message=f"{f.message} (probably a consequence of {cause.code}{where})",
                # The symptom's own fix (e.g. a higher lr for a plateau) may contradict the
                # cause's (a lower lr for units that died): the cause's fix comes first.
                suggestion=f"fix {cause.code} first: {cause.suggestion}",
                evidence={**f.evidence, "explained_by": cause.code},
            )
        out.append(f)
    return out


def combine(stored: list[dict[str, Any]], found: list[Finding]) -> list[Finding]:
    """Findings of the rules plus stored live findings not already present (by code + layer)."""
    seen = {(f.code, f.layer) for f in found}
    out = list(found)
    for d in stored:
        if "code" not in d or d["code"] not in RULES_BY_CODE:
            continue
        f = Finding.from_dict(d)
        if (f.code, f.layer) not in seen:
            seen.add((f.code, f.layer))
            out.append(f)
    return out


def diagnose(run_or_path: Any, config: Mapping[str, Any] | None = None) -> Diagnosis:
    """Diagnose a run: every rule on its stored data, plus what live diagnosis stored.

    Args:
        run_or_path: a run directory, a :class:`~deepscope.store.reader.RunReader`, or a Run
            (anything with a ``.path``).
        config: rule parameters, e.g. ``{"dead_units.threshold": 0.6}``.

    Returns:
        A :class:`Diagnosis` with findings sorted by severity, then step.

    Raises:
        InvalidArgumentError: unknown rule or option in ``config``.
        RunNotFoundError: the path is not a run.
        CorruptRunError: part of the run cannot be read (never a clean bill of health).

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> result = ds.diagnose("deepscope-runs/broken")  # doctest: +SKIP
        >>> result.ok, [f.code for f in result.findings]  # doctest: +SKIP
        (False, ['dead_units'])

    """
    rules = build_rules(config)
    overrides, _ = parse_config(config)
    reader, owned = _open(run_or_path)
    try:
        reader.meta()  # unreadable metadata: a damaged run is never judged healthy
        view = RunView(reader)
        found, skipped = run_rules(view, rules)
        # Stored live findings were judged with the default parameters: a rule the caller tuned
        # is judged again on the stored data only.
        codes = {r.code for r in rules} - set(overrides)
        # A live verdict of a rule on the stored statistics was judged on the steps written by
        # then; the rule has just judged every step (a share near a threshold can cross it
        # and come back), so its verdict now is the one kept.
        codes -= {r.code for r in rules if r.code not in skipped and r.live
                  and r.code != "nonfinite" and not isinstance(r, EventRule)}
        stored = [d for d in view.findings() if d.get("code") in codes]
        findings = explain_symptoms(combine(stored, found))
        path = str(getattr(reader, "path", ""))
    finally:
        if owned:
            reader.close()
    return Diagnosis(findings, skipped=skipped, path=path)
