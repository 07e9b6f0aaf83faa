"""The demo runs' reports stay mailable (under 5 MB) and embed every recorded view."""

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
    from deepscope.demo import BROKEN, HEALTHY, train_demo

    def payload_of(run: Path) -> dict:
        out = build_report(run, tmp_path / f"{run.name}.html")
        assert out.stat().st_size < MAX_REPORT_BYTES == 5_000_000
        html = out.read_text()
        body = re.search(r'<script id="deepscope-payload" type="application/json">(.*?)</script>',
                         html, re.S)
        assert body is not None
        return json.loads(body.group(1))

    # the healthy run holds every explain result: the largest demo report
    run = train_demo(HEALTHY, tmp_path / "runs")
    payload, rid = payload_of(run), run.name
    assert payload["scalars"][rid] and payload["stats"][rid] and payload["histograms"][rid]
    assert payload["graph"][rid] is not None and payload["layers"][rid]
    kinds = {a["info"]["kind"] for a in payload["artifacts"][rid]}
    assert kinds == {"attributions", "embedding", "predictions", "weights", "feature_importance",
                     "decision_boundary", "maximization"}
    assert payload["findings"][rid]["ok"]
    broken = train_demo(BROKEN[0], tmp_path / "runs")  # the NaN run: the shortest
    assert not payload_of(broken)["findings"][broken.name]["ok"]
