"""The report is one self-contained HTML file: inlined code, embedded payload, no network."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deepscope.errors import DeepscopeError, RunNotFoundError
from deepscope.report.build import MAX_REPORT_BYTES, build_report, inline_assets
from deepscope.server.static import DEFAULT_STATIC

PAYLOAD = re.compile(r'<script id="deepscope-payload" type="application/json">(.*?)</script>',
                     re.S)


def assert_self_contained(html: str) -> dict:
    assert 'src="http' not in html and "src='http" not in html
    for ref in re.findall(r"""<(?:link|img|a|iframe|source)\b[^>]*\bhref\s*=\s*["']([^"']+)""",
                          html):
        assert ref.startswith(("data:", "#")), ref
    assert not re.search(r"<script\b[^>]*\bsrc=", html)
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    (body,) = PAYLOAD.findall(html)
    return json.loads(body)


def test_report_from_a_built_spa_is_self_contained(run_dir: Path, fake_spa: Path,
                                                   tmp_path: Path) -> None:
    out = build_report(run_dir, tmp_path / "out" / "report.html", static_dir=fake_spa)
    html = out.read_text()
    payload = assert_self_contained(html)
    assert payload["runs"][0]["id"] == "mlp-1"
    assert "<\\/script>" in html and "<\\x21--" in html  # code that spelled them is escaped
    assert "url(\"data:image/png;base64," in html and 'href="data:image/svg+xml' in html
    assert html.index("charset") < html.index("Content-Security-Policy") < 1024


def test_missing_spa_names_make_web(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DeepscopeError, match="dashboard assets not built: run `make web`"):
        build_report(run_dir, tmp_path / "r.html", static_dir=tmp_path / "none")


def test_bad_run_dir_is_a_one_line_error(fake_spa: Path, tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError):
        build_report(tmp_path / "nope", tmp_path / "r.html", static_dir=fake_spa)


def test_unresolvable_script_is_refused(fake_spa: Path) -> None:
    with pytest.raises(DeepscopeError, match="cannot inline"):
        inline_assets('<script type="module" src="./assets/gone.js"></script>', fake_spa)
    with pytest.raises(DeepscopeError, match="cannot inline"):
        inline_assets('<script src="https://cdn.example/x.js"></script>', fake_spa)


@pytest.mark.skipif(not (DEFAULT_STATIC / "index.html").is_file(),
                    reason="dashboard not built (`make web`; `make test` builds it first)")
def test_report_with_the_real_dashboard(run_dir: Path, tmp_path: Path) -> None:
    out = build_report(run_dir, tmp_path / "report.html")
    html = out.read_text()
    payload = assert_self_contained(html)
    assert payload["scalars"]["mlp-1"]["train/loss"]["total_points"] == 40
    assert out.stat().st_size < MAX_REPORT_BYTES
