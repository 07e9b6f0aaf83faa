"""What a rule checks, its thresholds and its fix, as ``deepscope diagnose --explain CODE`` says.

Everything comes from the rule itself: its docstring (mechanism, measured ranges, evidence,
suggestion) and its ``Params`` dataclass (each threshold's default and documented meaning), so
the explanation cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass

from deepscope.diagnose.rules import RULES_BY_CODE
from deepscope.errors import InvalidArgumentError

_FIELD = re.compile(r"^(\w+):\s*(.*)$")


@dataclass(frozen=True)
class Threshold:
    """One field of a rule's ``Params``: its name, default value and documented meaning."""

    name: str
    default: object
    doc: str


@dataclass(frozen=True)
class RuleDescription:
    """A rule explained: summary, mechanism, thresholds, fix, and whether it runs live."""

    code: str
    summary: str
    mechanism: str
    thresholds: tuple[Threshold, ...]
    fix: str
    live: bool

    def to_text(self) -> str:
        """Plain text for a terminal (``deepscope diagnose --explain CODE``)."""
        lines = [f"{self.code}: {self.summary}", "", "What it checks:", _indent(self.mechanism)]
        lines += ["", "Thresholds (tune with --set " + self.code + ".<name>=<value>):"]
        if self.thresholds:
            for t in self.thresholds:
                lines.append(f"  {t.name} = {t.default!r}")
                if t.doc:
                    lines.append(_indent(t.doc, "      "))
        else:
            lines.append("  none")
        lines.append(f"  enabled = True  (--set {self.code}.enabled=false turns the rule off)")
        lines += ["", "Fix:", _indent(self.fix or "see the suggestion of each finding")]
        lines += ["", "Runs live while training." if self.live
                  else "Runs after training (ds.diagnose, deepscope diagnose)."]
        return "\n".join(lines)


def describe_rule(code: str) -> RuleDescription:
    """The explanation of the rule emitting ``code``.

    Raises:
        InvalidArgumentError: no rule has this code.

    Example:
        >>> d = describe_rule("dead_units")
        >>> d.code, [t.name for t in d.thresholds][:1]
        ('dead_units', ['threshold'])

    """
    rule = RULES_BY_CODE.get(code)
    if rule is None:
        raise InvalidArgumentError(
            f"unknown finding code {code!r}; codes: {', '.join(RULES_BY_CODE)}"
        )
    doc = inspect.cleandoc(rule.__doc__ or "").replace("``", "")
    doc = doc.split("\nExample:", 1)[0].strip()
    summary, _, body = doc.partition("\n")
    body, fix = _split_fix(body.strip().removeprefix("Mechanism:").strip())
    return RuleDescription(code, summary.strip(), body, _thresholds(rule.Params),
                           fix, bool(rule.live))


def _split_fix(body: str) -> tuple[str, str]:
    """The mechanism and the text after its last ``Suggestion`` sentence start."""
    idx = body.rfind("Suggestion")
    if idx < 0:
        return body, ""
    fix = body[idx:].split(":", 1)[-1] if ":" in body[idx:idx + 40] else body[idx:]
    return body[:idx].strip(), " ".join(fix.split())


def _thresholds(params: type) -> tuple[Threshold, ...]:
    docs = _field_docs(inspect.cleandoc(params.__doc__ or "").replace("``", ""))
    default = params()
    return tuple(Threshold(f.name, getattr(default, f.name), docs.get(f.name, ""))
                 for f in dataclasses.fields(params))


def _field_docs(doc: str) -> dict[str, str]:
    """``name: text`` entries of a Google-style ``Attributes:`` section (continuations joined)."""
    out: dict[str, str] = {}
    current = None
    in_section = False
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            in_section = True
            continue
        if not in_section or not line.strip():
            continue
        match = _FIELD.match(line.strip())
        if match and line.startswith("    ") and not line.startswith("        "):
            current = match.group(1)
            out[current] = match.group(2)
        elif current is not None:
            out[current] += " " + line.strip()
    return out


def _indent(text: str, prefix: str = "  ") -> str:
    import textwrap

    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n(?=\s*\* )", text)]
    return "\n".join(textwrap.fill(p, 96, initial_indent=prefix, subsequent_indent=prefix + "  "
                                   if p.startswith("* ") else prefix) for p in paragraphs if p)
