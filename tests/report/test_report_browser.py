"""The report opened from file:// in Chromium renders a chart and requests nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from deepscope.report.build import build_report
from deepscope.server.static import DEFAULT_STATIC

CHROMIUM = "/usr/bin/chromium"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (DEFAULT_STATIC / "index.html").is_file(),
                       reason="dashboard not built (`make web`; `make test` builds it first)"),
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="no Chromium at /usr/bin/chromium"),
]


def test_report_renders_offline(run_dir: Path, tmp_path: Path, browser: object) -> None:
    out = build_report(run_dir, tmp_path / "report.html")
    requests: list[str] = []
    errors: list[str] = []
    context = browser.new_context()
    try:
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{out.as_uri()}#/run/{run_dir.name}/scalars")
        page.wait_for_selector("canvas", timeout=20_000)
        assert "mlp" in page.inner_text("body")
    finally:
        context.close()
    assert errors == []
    outside = [u for u in requests if not u.startswith(("data:", "blob:", out.as_uri()))]
    assert outside == []
