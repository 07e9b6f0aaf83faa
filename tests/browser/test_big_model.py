"""A GPT-2 medium run (246 watched layers, 200 sampled steps) stays readable and fast."""

from __future__ import annotations

import time

import pytest
from big_model import VANISHING, ZERO_GRAD
from browser_support import ARTIFACTS
from helpers import run_id, wait_painted

pytestmark = pytest.mark.browser

HEAT = "[data-testid=health-heatmap]"


def _rows(page) -> int:
    return int(page.locator(HEAT).get_attribute("data-rows"))


def _health(page, server, query: str = "") -> str:
    rid = run_id(page, server.url, "gpt2-medium")
    t0 = time.monotonic()
    page.goto(f"{server.url}/#/run/{rid}/health{'?' + query if query else ''}")
    wait_painted(page, HEAT)
    print(f"gpt2-medium layer health: heatmap painted {time.monotonic() - t0:.2f} s after load")
    return rid


def test_layer_health_groups_blocks_searches_and_sorts(page, big_server) -> None:
    _health(page, big_server)
    # 24 collapsed blocks + wte, wpe, ln_f, lm_head: every row readable
    assert _rows(page) == 28
    labels = page.locator("[data-testid=heat-row]")
    assert labels.count() == 28
    assert page.locator("[data-testid=heat-row][data-row-id='block:transformer.h.0']").count() == 1
    # a block whose layer has a gradient norm of exactly 0 is flagged while closed
    flag = page.locator("[data-testid=heat-row][data-row-id='block:transformer.h.5'] "
                        "[data-testid=heat-flag]")
    assert "exactly 0" in flag.get_attribute("title")
    # open a block: its six layers appear under it
    page.locator("[data-row-id='block:transformer.h.17'] [data-testid=heat-toggle]").click()
    page.wait_for_function("(s) => document.querySelector(s).dataset.rows === '34'", arg=HEAT)
    assert page.locator(f"[data-testid=heat-row][data-row-id='{VANISHING}']").count() == 1
    assert "open=block" in page.url
    # most anomalous first: the block with a zero gradient, then the collapsing one
    page.select_option("[data-testid=health-order]", "anomaly")
    page.wait_for_timeout(200)
    first = page.locator("[data-testid=heat-row]").evaluate_all(
        "rs => rs.map(r => r.dataset.rowId)")
    assert first[0] == "block:transformer.h.5", first[:5]
    assert first.index(VANISHING) < 8, first[:10]
    # search: only matching layers, inside their (open) blocks
    page.fill("[data-testid=health-search]", "mlp.c_fc")
    page.wait_for_function("(s) => document.querySelector(s).dataset.rows === '48'", arg=HEAT)
    page.fill("[data-testid=health-search]", "")
    page.click("[data-testid=health-expand-all]")
    page.wait_for_function("(s) => Number(document.querySelector(s).dataset.rows) > 150", arg=HEAT)
    all_rows = _rows(page)
    assert all_rows == 28 + 24 * 6
    # zoom with the wheel and pan by dragging; double-click resets
    box = page.locator(f"{HEAT} canvas").bounding_box()
    cx, cy = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4
    page.mouse.move(cx, cy)
    for _ in range(6):
        page.mouse.wheel(0, -200)
    page.wait_for_timeout(200)
    zoom = page.locator(HEAT).get_attribute("data-zoom")
    (s0, s1), (r0, r1) = (tuple(map(int, part.split("-"))) for part in zoom.split(","))
    assert s1 - s0 < 200 and r1 - r0 < all_rows, zoom
    page.mouse.down()
    page.mouse.move(cx - 200, cy - 100, steps=5)
    page.mouse.up()
    assert page.locator(HEAT).get_attribute("data-zoom") != zoom
    page.mouse.dblclick(cx, cy)
    assert page.locator(HEAT).get_attribute("data-zoom") == f"0-200,0-{all_rows}"
    page.screenshot(path=str(ARTIFACTS / "gpt2-medium-health-expanded.png"), full_page=True)


def test_zero_gradient_layer_is_found_and_shown(page, big_server) -> None:
    _health(page, big_server, "order=anomaly&group=0")
    first = page.locator("[data-testid=heat-row]").first.get_attribute("data-row-id")
    assert first == ZERO_GRAD
    box = page.locator(f"{HEAT} canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] - 96 - 20, box["y"] + 8 + 1)  # last step, first row
    tip = page.locator(f"{HEAT} [role=tooltip]")
    tip.wait_for(state="visible")
    assert ZERO_GRAD in tip.inner_text() and "0 (exactly)" in tip.inner_text()


def test_distributions_layer_picker_and_graph_on_a_big_model(page, big_server) -> None:
    rid = run_id(page, big_server.url, "gpt2-medium")
    page.goto(f"{big_server.url}/#/run/{rid}/distributions")
    wait_painted(page, "[data-testid=stat-bands]")
    groups = page.locator("[data-testid=dist-layer] optgroup").count()
    assert groups == 24
    page.fill("[data-testid=dist-layer-filter]", "h.20.mlp.act")
    page.wait_for_function("() => location.hash.includes('h.20.mlp.act')")
    page.select_option("[data-testid=dist-kind]", "activation")
    wait_painted(page, "[data-testid=distribution-chart]")
    t0 = time.monotonic()
    page.goto(f"{big_server.url}/#/run/{rid}/graph")
    page.wait_for_selector("[data-testid=graph-node]", timeout=60_000)
    print(f"gpt2-medium graph: first nodes {time.monotonic() - t0:.2f} s after load")
    assert page.locator("[data-testid=graph-node]").count() < 120  # opened to a readable depth
    page.fill("[data-testid=graph-search]", "c_fc")
    page.wait_for_selector("[data-testid=graph-node][data-match=true]")
