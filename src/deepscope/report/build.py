"""One self-contained HTML report: the built SPA with its script, style and data inlined.

The SPA build (``make web``) is one JS bundle and one CSS file referenced from ``index.html``;
both are inlined, any other local reference (icon, CSS ``url()``) becomes a ``data:`` URI, and the
run's payload is embedded as ``<script id="deepscope-payload" type="application/json">``. A
Content-Security-Policy ``<meta>`` forbids every network request, so the file opens offline,
from an e-mail attachment or an issue, and shows the same views as the dashboard.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from pathlib import Path

from deepscope.errors import InvalidArgumentError, OptionalDependencyError
from deepscope.report.payload import payload_json
from deepscope.server.static import DEFAULT_STATIC

#: A demo report must stay mailable; payload resolution drops until the file fits.
MAX_REPORT_BYTES = 5_000_000
#: Each further run of a comparison report may add this much (a 6-run report stays < 12.5 MB).
EXTRA_RUN_BYTES = 1_500_000

#: Nothing may be fetched: inline code and data: / blob: resources only.
REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; worker-src blob: data:; connect-src data: blob:; "
    "base-uri 'none'; form-action 'none'"
)

_SCRIPT = re.compile(r"<script\b([^>]*?)\bsrc=[\"']([^\"']+)[\"']([^>]*)>\s*</script>", re.I)
_LINK = re.compile(r"<link\b[^>]*>", re.I)
_ATTR = re.compile(r"""(\w[\w-]*)\s*=\s*["']([^"']*)["']""")
_CSS_URL = re.compile(r"""url\(\s*(["']?)([^"')]+)\1\s*\)""")


def _local(static: Path, ref: str, base: Path | None = None) -> Path | None:
    """The file a relative (to ``base``, default ``static``) or root-relative reference names
    inside ``static``; None for remote, data: and fragment references.
    """
    if re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.I) or ref.startswith(("//", "#")):
        return None
    clean = ref.split("?", 1)[0].split("#", 1)[0]
    start = static if clean.startswith("/") or base is None else base
    path = (start / clean.lstrip("/")).resolve()
    return path if static in path.parents and path.is_file() else None


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _escape_script(code: str) -> str:
    # "</script" would end the element and "<!--" can switch the HTML parser into its escaped
    # state; both are rewritten to equivalent JavaScript escapes.
    code = re.sub(r"</(script)", r"<\\/\1", code, flags=re.I)
    return code.replace("<!--", "<\\x21--")


def _inline_css(css: str, base: Path, static: Path) -> str:
    def repl(m: re.Match[str]) -> str:
        target = _local(static, m.group(2), base)
        return f'url("{_data_uri(target)}")' if target else m.group(0)

    css = _CSS_URL.sub(repl, css)
    return re.sub(r"</(style)", r"<\\/\1", css, flags=re.I)


def inline_assets(html: str, static: Path) -> str:
    """Inline every local script, stylesheet and icon of ``html`` (the SPA's ``index.html``).

    Example:
        >>> inline_assets('<script src="./a.js"></script>', Path("static"))  # doctest: +SKIP
        '<script>console.log(1)</script>'

    """
    static = static.resolve()

    def script(m: re.Match[str]) -> str:
        path = _local(static, m.group(2))
        if path is None:
            raise InvalidArgumentError(f"report: cannot inline script {m.group(2)!r}")
        attrs = re.sub(r"\bcrossorigin(=[\"'][^\"']*[\"'])?", "", m.group(1) + m.group(3))
        code = _escape_script(path.read_text(encoding="utf-8"))
        return f"<script{' '.join([''] + attrs.split())}>{code}</script>"

    def link(m: re.Match[str]) -> str:
        attrs = {k.lower(): v for k, v in _ATTR.findall(m.group(0))}
        rel, href = attrs.get("rel", "").lower(), attrs.get("href", "")
        path = _local(static, href) if href else None
        if rel == "modulepreload" or (path is None and rel in ("icon", "manifest")):
            return ""
        if path is None:
            return m.group(0)
        if rel == "stylesheet":
            css = _inline_css(path.read_text(encoding="utf-8"), path.parent, static)
            return f"<style>{css}</style>"
        return m.group(0).replace(href, _data_uri(path))

    return _LINK.sub(link, _SCRIPT.sub(script, html))


def _remaining_references(html: str) -> list[str]:
    """Local or remote URLs still referenced by tags outside inline code (must be none)."""
    tags = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", "", html, flags=re.I | re.S)
    refs = re.findall(r"""<[^>]+\b(?:src|href)\s*=\s*["']([^"']+)["']""", tags, flags=re.I)
    return [r for r in refs if not r.startswith(("data:", "#", "blob:"))]


def _insert(page: str, pattern: str, text: str, *, after: bool) -> str:
    """``text`` placed after (or before) the first match of ``pattern``, else at the start."""
    m = re.search(pattern, page, re.I)
    if m is None:
        return text + page
    at = m.end() if after else m.start()
    return page[:at] + text + page[at:]


def build_report(
    run_dir: str | Path | list[str | Path], out_path: str | Path, *,
    static_dir: str | Path | None = None,
) -> Path:
    """Write one self-contained HTML report of the run(s) in ``run_dir`` to ``out_path``.

    With several runs the report opens on their table and every view compares them, as the
    dashboard does. Raises ``RunNotFoundError``/``CorruptRunError`` for a bad run and an error
    naming ``make web`` when the dashboard has not been built.

    Example:
        >>> from deepscope.report.build import build_report
        >>> build_report("deepscope-runs/mlp-1", "report.html")  # doctest: +SKIP
        PosixPath('report.html')

    """
    static = Path(static_dir) if static_dir is not None else DEFAULT_STATIC
    index = static / "index.html"
    if not index.is_file():
        raise OptionalDependencyError("dashboard assets not built: run `make web`")
    page = inline_assets(index.read_text(encoding="utf-8"), static)
    leftover = _remaining_references(page)
    if leftover:
        raise InvalidArgumentError(f"report would load {leftover[0]!r}; rebuild with `make web`")
    dirs = list(run_dir) if isinstance(run_dir, list | tuple) else [run_dir]
    if not dirs:
        raise InvalidArgumentError("report: give at least one run directory")
    cap = MAX_REPORT_BYTES + EXTRA_RUN_BYTES * (len(dirs) - 1)
    budget = cap - len(page.encode("utf-8")) - 4096
    payload, _ = payload_json(dirs, max_bytes=max(budget, 100_000))
    csp = f'<meta http-equiv="Content-Security-Policy" content="{REPORT_CSP}">'
    data = f'<script id="deepscope-payload" type="application/json">{payload}</script>'
    charset = re.search(r"<meta\b[^>]*charset[^>]*>", page, re.I)
    page = _insert(page, re.escape(charset.group(0)) if charset else r"<head\b[^>]*>", csp,
                   after=True)
    page = _insert(page, r"<script\b|</head>|<body\b", data, after=False)
    out = Path(out_path)
    if out.is_dir():
        raise InvalidArgumentError(f"report output {out} is a directory; give a file name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(page, encoding="utf-8")
    except OSError as err:
        raise InvalidArgumentError(f"cannot write the report to {str(out)!r}: "
                                   f"{err.strerror or type(err).__name__}") from None
    return out
