"""Notebook rendering: self-contained HTML for runs, diagnoses, summaries and explain results.

Each ``_repr_html_`` in deepscope delegates here in one line, so Jupyter shows a run reader, a
:class:`~deepscope.diagnose.diagnosis.Diagnosis`, a
:class:`~deepscope.graph.summary.ModelSummary` or any explain result as a table and a figure,
with no server: figures are matplotlib PNGs inlined as ``data:`` URIs and every user string
(run names, layer names, messages, config values) is escaped. :func:`show` embeds the run's
single-file report (:func:`deepscope.report.build.build_report`, the same file ``deepscope
report`` writes) in a sandboxed ``<iframe srcdoc>``: scripts run, but it cannot reach the notebook
page, and the report's own Content-Security-Policy forbids network access.
"""

from __future__ import annotations

import base64
import io
import re
import tempfile
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from deepscope.errors import DeepscopeError

_STYLE = (
    "font-family:system-ui,sans-serif;font-size:13px;line-height:1.4;max-width:980px"
)
_TABLE = "border-collapse:collapse;margin:4px 0 8px 0"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"
_SEVERITY_COLOURS = {"error": "#c62828", "warning": "#b26a00", "info": "#546e7a"}
#: Config entries shown for a run (the full config is ``reader.meta().config``).
MAX_CONFIG = 12


def _table(rows: Iterable[Sequence[Any]], head: Sequence[str] | None = None) -> str:
    cells = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{escape(str(c))}</td>' for c in row) + "</tr>"
        for row in rows
    )
    top = ""
    if head:
        top = "<tr>" + "".join(f'<th style="{_CELL}">{escape(h)}</th>' for h in head) + "</tr>"
    return f'<table style="{_TABLE}">{top}{cells}</table>'


def _box(title: str, body: str) -> str:
    return f'<div style="{_STYLE}"><b>{escape(title)}</b>{body}</div>'


def figure_html(fig: Any, alt: str) -> str:
    """A matplotlib figure as an inline PNG ``<img>`` (the figure is closed afterwards)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


# -- runs -----------------------------------------------------------------------------------
def reader_html(reader: Any) -> str:
    """A run: status, steps, config, last value of each scalar, layers and the loss curves."""
    meta = reader.meta()
    duration = "-" if meta.duration is None else f"{meta.duration:.1f} s"
    facts = [("status", meta.status), ("steps", meta.last_step if meta.last_step is not None
              else "-"), ("duration", duration), ("path", meta.path)]
    if meta.error:
        facts.append(("error", meta.error))
    config = list(meta.config.items())
    more = f" (+{len(config) - MAX_CONFIG} more)" if len(config) > MAX_CONFIG else ""
    parts = [_table(facts)]
    if config:
        parts.append(f"<div>config{escape(more)}</div>")
        parts.append(_table([(k, _fmt(v)) for k, v in config[:MAX_CONFIG]]))
    tags = reader.scalar_tags()
    if tags:
        last = [(t, _fmt(float(s.values[-1])), s.total_points)
                for t in tags if len((s := reader.scalars(t, max_points=2)).values)]
        parts.append(_table(last, ("scalar", "last", "points")))
        parts.append(_loss_figure(reader, tags))
    layers = reader.layers()
    kinds = reader.stat_kinds()
    parts.append(f"<div>{len(layers)} layers watched; statistics: "
                 f"{escape(', '.join(kinds)) if kinds else 'none recorded'}</div>")
    return _box(f"deepscope run {meta.name}", "".join(parts))


def _loss_figure(reader: Any, tags: list[str]) -> str:
    from deepscope.plots import plot_scalars

    losses = [t for t in tags if "loss" in t.lower() and not t.startswith("summary/")][:4]
    if not losses:
        return ""
    return figure_html(plot_scalars(reader, losses), "loss curves")


# -- diagnosis and summaries ----------------------------------------------------------------
def diagnosis_html(diagnosis: Any) -> str:
    """Findings, most severe first, each with its layer, step, message and suggestion."""
    if not diagnosis.findings:
        body = '<div style="color:#2e7d32">No problems found: a clean bill of health.</div>'
    else:
        rows = []
        for f in diagnosis.findings:
            colour = _SEVERITY_COLOURS.get(f.severity, "#000")
            where = " ".join(x for x in (f.layer or "", "" if f.step is None else f"step {f.step}")
                             if x)
            rows.append(
                f'<tr><td style="{_CELL};color:{colour}"><b>{escape(f.severity)}</b></td>'
                f'<td style="{_CELL}"><code>{escape(f.code)}</code><br>{escape(where)}</td>'
                f'<td style="{_CELL}">{escape(f.message)}<br><i>fix:</i> '
                f"{escape(f.suggestion)}</td></tr>"
            )
        body = f'<table style="{_TABLE}">{"".join(rows)}</table>'
    if diagnosis.skipped:
        body += _table([(code, why) for code, why in diagnosis.skipped.items()],
                       ("not checked", "why"))
    title = f"Diagnosis of {diagnosis.path}" if diagnosis.path else "Diagnosis"
    return _box(title, body)


def summary_html(summary: Any) -> str:
    """The architecture table (layer, output shape, parameters, FLOPs) and the totals."""
    from deepscope.graph.summary import _shapes, _si

    rows = []
    for n in summary.rows():
        name = f"{n.name.rpartition('.')[2]} ({n.type})" if n.kind == "module" else n.name
        rows.append(("\u00a0\u00a0" * n.depth + name, _shapes(n.output_shapes),
                     f"{n.params:,}" if n.params else "-", _si(n.flops) if n.flops else "-"))
    footer = "".join(f"<div>{escape(line)}</div>" for line in summary._footer())
    title = f"{summary.graph.model} ({summary.graph.tracer} trace)"
    return _box(title, _table(rows, ("layer (type)", "output shape", "params", "FLOPs")) + footer)


# -- explain results ------------------------------------------------------------------------
def _plot_for(kind: str) -> Any:
    from deepscope import plots

    return {
        "attributions": plots.plot_attributions,
        "feature_importance": plots.plot_feature_importance,
        "embedding": plots.plot_embedding,
        "maximization": plots.plot_maximization,
        "decision_boundary": plots.plot_decision_boundary,
        "predictions": plots.plot_confusion_matrix,
        "weights": plots.plot_spectrum,
    }[kind]


def _explain_facts(result: Any) -> list[tuple[str, Any]]:
    """A few identifying numbers per kind (names follow the result dataclasses)."""
    keys = ("method", "layer", "metric", "baseline_score", "projection", "parameterization",
            "steps", "repeats", "n", "accuracy", "ece")
    facts = []
    for key in keys:
        value = getattr(result, key, None)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            facts.append((key, _fmt(value)))
    if result.kind == "weights":
        facts.append(("layers", len(result.layers)))
    return facts


def explain_html(result: Any) -> str:
    """An explain result: its key numbers and the figure ``deepscope.plots`` draws for it."""
    try:
        figure = figure_html(_plot_for(result.kind)(result), result.kind)
    except (DeepscopeError, KeyError, ValueError) as err:
        figure = f"<div>no figure: {escape(str(err))}</div>"
    return _box(result.kind.replace("_", " "), _table(_explain_facts(result)) + figure)


# -- the whole report inline ----------------------------------------------------------------
class InlineReport:
    """The run's single-file report, shown inline by Jupyter (``_repr_html_``).

    Attributes:
        html: the report page (the same as ``deepscope report`` writes).
        height: iframe height in pixels.

    """

    def __init__(self, html: str, height: int = 720) -> None:
        self.html = html
        self.height = int(height)

    def _repr_html_(self) -> str:
        # An srcdoc document resolves "#/run/..." links against the notebook's URL; a <base>
        # placed before the report's CSP (which forbids later ones) keeps them in the frame.
        page = re.sub(r"<head\b[^>]*>", lambda m: m.group(0) + '<base href="about:srcdoc">',
                      self.html, count=1, flags=re.I)
        return (
            f'<iframe sandbox="allow-scripts" srcdoc="{escape(page, quote=True)}" '
            f'style="width:100%;height:{self.height}px;border:1px solid #ddd"></iframe>'
        )

    def save(self, path: str | Path) -> Path:
        """Write the report page to ``path``."""
        out = Path(path)
        out.write_text(self.html, encoding="utf-8")
        return out


def report_html(run_dir: str | Path) -> str:
    """The run's report page as a string (built by the report's own build function)."""
    from deepscope.report.build import build_report

    with tempfile.TemporaryDirectory(prefix="deepscope-show-") as tmp:
        return build_report(run_dir, Path(tmp) / "report.html").read_text(encoding="utf-8")


def show(run_dir: str | Path, height: int = 720) -> InlineReport | None:
    """Display the run's report inline in a notebook; elsewhere return it (``.save(path)``)."""
    report = InlineReport(report_html(run_dir), height)
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return report
    if get_ipython() is None:
        return report
    display(report)
    return None

