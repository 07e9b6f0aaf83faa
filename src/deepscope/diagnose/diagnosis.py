"""The result of a diagnosis: findings plus JSON, Markdown and terminal renderings."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from deepscope.diagnose.base import Finding, severity_rank

_ICONS = {"error": "ERROR", "warning": "WARNING", "info": "info"}
_STYLES = {"error": "bold red", "warning": "yellow", "info": "dim"}


class Diagnosis:
    """Findings of one run, most severe first.

    Attributes:
        findings: the findings, sorted by severity (errors first), then step.
        skipped: rule code -> why it could not run (data not recorded).
        path: the diagnosed run directory.

    Example:
        >>> d = Diagnosis([Finding("loss_plateau", "warning", None, 0, "flat", {}, "raise lr")])
        >>> d.ok, d.codes()
        (False, ['loss_plateau'])
        >>> print(d.to_json())  # doctest: +ELLIPSIS
        [{"code": "loss_plateau", "severity": "warning", ...}]

    """

    def __init__(
        self,
        findings: Iterable[Finding],
        skipped: dict[str, str] | None = None,
        path: str = "",
    ) -> None:
        self.findings: list[Finding] = sorted(
            findings,
            key=lambda f: (-severity_rank(f.severity), -1 if f.step is None else f.step),
        )
        self.skipped = dict(skipped or {})
        self.path = path

    @property
    def ok(self) -> bool:
        """True when no finding is a warning or an error."""
        return not any(severity_rank(f.severity) >= 1 for f in self.findings)

    def codes(self, min_severity: str = "warning") -> list[str]:
        """Distinct codes at or above ``min_severity``, in finding order."""
        out: list[str] = []
        for f in self.findings:
            if severity_rank(f.severity) >= severity_rank(min_severity) and f.code not in out:
                out.append(f.code)
        return out

    def at_least(self, severity: str) -> list[Finding]:
        """Findings at or above ``severity``."""
        return [f for f in self.findings if severity_rank(f.severity) >= severity_rank(severity)]

    def to_dicts(self) -> list[dict[str, Any]]:
        """Findings as dicts with exactly the keys of :meth:`Finding.to_dict`."""
        return [f.to_dict() for f in self.findings]

    def to_json(self, indent: int | None = None) -> str:
        """The JSON list of findings (the ``--format json`` output of the CLI)."""
        return json.dumps(self.to_dicts(), indent=indent)

    def to_markdown(self) -> str:
        """A Markdown report: a verdict line, then one section per finding."""
        lines = [f"# Diagnosis of `{self.path}`" if self.path else "# Diagnosis", ""]
        if not self.findings:
            lines.append("No problems found: a clean bill of health.")
        elif self.ok:
            lines.append("No warnings or errors; notes below.")
        else:
            n = len(self.at_least("warning"))
            lines.append(f"**{n} problem{'s' if n != 1 else ''} found.**")
        for f in self.findings:
            where = ", ".join(x for x in (
                f"layer `{f.layer}`" if f.layer else "",
                f"step {f.step}" if f.step is not None else "",
            ) if x)
            lines += ["", f"## {_ICONS[f.severity]}: `{f.code}`" + (f" ({where})" if where else ""),
                      "", f.message, "", f"**Suggestion:** {f.suggestion}"]
            if f.evidence:
                ev = ", ".join(f"{k}={_fmt(v)}" for k, v in f.to_dict()["evidence"].items())
                lines += ["", f"Evidence: {ev}"]
        if self.skipped:
            skipped = "; ".join(f"`{c}` ({w})" for c, w in self.skipped.items())
            lines += ["", f"Not checked: {skipped}"]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        """Plain text, one block per finding."""
        if not self.findings:
            return "No problems found."
        out = []
        for f in self.findings:
            where = " ".join(x for x in (f"[{f.layer}]" if f.layer else "",
                                         f"step {f.step}" if f.step is not None else "") if x)
            out.append(f"{_ICONS[f.severity]} {f.code} {where}\n  {f.message}\n  -> {f.suggestion}")
        return "\n".join(out)

    def print(self, console: Any = None) -> None:
        """Print the findings with rich (colours in a terminal)."""
        from rich.console import Console

        (console or Console()).print(self.__rich__())

    def __rich__(self) -> Any:
        """A rich renderable: one coloured block per finding, or a clean bill of health."""
        from rich.console import Group
        from rich.text import Text

        if not self.findings:
            return Text.assemble(("No problems found.", "bold green"), " A clean bill of health.")
        blocks: list[Any] = []
        for f in self.findings:
            head = Text.assemble((_ICONS[f.severity], _STYLES[f.severity]), " ", (f.code, "bold"))
            if f.layer:
                head.append(f" {f.layer}", style="cyan")
            if f.step is not None:
                head.append(f" step {f.step}", style="dim")
            blocks += [head, Text(f"  {f.message}"), Text.assemble(("  -> ", "green"),
                                                                   f.suggestion)]
        return Group(*blocks)

    def _repr_html_(self) -> str:
        from deepscope.integrations.notebook import diagnosis_html

        return diagnosis_html(self)

    def __repr__(self) -> str:
        return f"Diagnosis(ok={self.ok}, codes={self.codes('info')})"

    def __len__(self) -> int:
        return len(self.findings)

    def __iter__(self):  # noqa: ANN204
        return iter(self.findings)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
