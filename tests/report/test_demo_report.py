"""The demo run's report stays mailable (under 5 MB) and embeds every recorded view."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deepscope.report.build import MAX_REPORT_BYTES, build_report
from deepscope.server.static import DEFAULT_STATIC


@pytest.mark.slow
@pytest.mark.skipif(not (DEFAULT_STATIC / "index.html").is_file(),
                    reason="dashboard not built (`make web`; `make test` builds it first)")
def test_demo_report_is_under_5_mb(tmp_path: Path) -> None:
    from deepscope.demo import BROKEN, train_demo

    run = train_demo(BROKEN, tmp_path / "runs")
    out = build_report(run, tmp_path / "report.html")
    assert out.stat().st_size < MAX_REPORT_BYTES == 5_000_000
    html = out.read_text()
    body = re.search(r'<script id="deepscope-payload" type="application/json">(.*?)</script>',
                     html, re.S)
    assert body is not None
    payload = json.loads(body.group(1))
    rid = run.name
    assert payload["scalars"][rid] and payload["stats"][rid] and payload["histograms"][rid]
    assert payload["graph"][rid] is not None and payload["layers"][rid]
    assert not payload["findings"][rid]["ok"]  # the broken demo is diagnosed as broken
