"""The graph view on the demo runs, on a run without a graph, and inside the offline report.

Nodes are found by the hooks in web/README.md ("Test hooks"): ``graph-node`` with
``data-node-id``, ``aria-expanded`` on containers, ``data-finding``, ``data-match``;
``graph-toggle``, ``graph-search``, ``graph-color``, ``graph-step``, ``graph-export``.
"""

from __future__ import annotations

import re

import pytest
import test_report as report_helpers
from helpers import run_id

pytestmark = pytest.mark.browser

NODE = "[data-testid=graph-node]"
BROKEN = "demo-dead-relu-cnn"
SHAPE = re.compile(r"\[\d+(, \d+)+\]")

offline_page = report_helpers.offline_page


def _wait_graph(page: object) -> None:
    page.wait_for_selector(f".view[data-view=graph] svg {NODE}", timeout=20_000)
    page.wait_for_function("() => !document.querySelector('.view .loading')")


def _count(page: object) -> int:
    return page.locator(NODE).count()


def _toggle(page: object, node_id: str, expect_more: bool) -> int:
    before = _count(page)
    page.locator(f"{NODE}[data-node-id='{node_id}'] [data-testid=graph-toggle]").click()
    op = ">" if expect_more else "<"
    page.wait_for_function(f"([s, n]) => document.querySelectorAll(s).length {op} n",
                           arg=[NODE, before], timeout=15_000)
    return _count(page)


def _expand_collapse(page: object) -> None:
    """The CNN's ``features`` block starts open; close it (one node), open it again."""
    features = page.locator(f"{NODE}[data-node-id='features']")
    assert features.get_attribute("aria-expanded") == "true"
    opened = _count(page)
    closed = _toggle(page, "features", expect_more=False)
    assert closed == opened - 5  # its five layers fold into the container node
    features = page.locator(f"{NODE}[data-node-id='features']")
    assert features.get_attribute("aria-expanded") == "false"
    assert page.locator(f"{NODE}[data-node-id='features.1']").count() == 0
    assert _toggle(page, "features", expect_more=True) == opened
    assert page.locator(f"{NODE}[data-node-id='features']").get_attribute("aria-expanded") == "true"


def _hover_shows_shape(page: object, node_id: str) -> str:
    page.locator(f"{NODE}[data-node-id='{node_id}']").hover()
    tip = page.locator(".view[data-view=graph] [role=tooltip]")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert node_id in text and SHAPE.search(text), text
    page.mouse.move(2, 300)
    tip.wait_for(state="hidden")
    return text


def test_graph_view_structure_hover_search_colour_export(page, server) -> None:
    rid = run_id(page, server.url, BROKEN)
    page.goto(f"{server.url}/#/run/{rid}/graph")
    _wait_graph(page)
    ids = page.locator(NODE).evaluate_all("ns => ns.map(n => n.dataset.nodeId)")
    assert {"input:x", "features", "features.0", "fc1", "fc2", "output"} <= set(ids)
    assert page.locator(".view[data-view=graph] svg path.edge").count() >= 9
    assert re.search(r"layout \d+\.\d\d s", page.locator("[data-testid=graph-status]").inner_text())

    _expand_collapse(page)
    tip = _hover_shows_shape(page, "fc1")
    assert "parameters" in tip and "FLOPs" in tip

    # findings of the broken run sit on their layers (dead ReLUs in `act` and `features.3`)
    findings = page.request.get(f"{server.url}/api/runs/{rid}/findings").json()["findings"]
    layers = {"input:x" if f["layer"] == "<root>" else f["layer"] for f in findings}
    page.wait_for_selector(f"{NODE}[data-finding]")
    marked = dict(page.locator(f"{NODE}[data-finding]").evaluate_all(
        "ns => ns.map(n => [n.dataset.nodeId, n.dataset.finding])"))
    assert "act" in marked, marked
    assert layers & set(ids) <= set(marked), (layers, marked)
    assert set(marked.values()) <= {"info", "warning", "error"}

    # search highlights matches by name or type; Enter steps to the next one
    search = page.locator("[data-testid=graph-search]")
    search.fill("conv2d")
    page.wait_for_function("() => document.querySelectorAll('[data-match=true]').length === 2")
    hits = page.locator(f"{NODE}[data-match=true]").evaluate_all(
        "ns => ns.map(n => n.dataset.nodeId)")
    assert sorted(hits) == ["features.0", "features.2"]
    search.press("Enter")
    assert "1 of 2" in page.locator(".graph-search-count").inner_text()
    # a match inside a closed container: the container is marked, Enter opens it
    _toggle(page, "features", expect_more=False)
    search.fill("conv2d")
    page.wait_for_selector(f"{NODE}[data-node-id='features'][data-match=true]")
    search.press("Enter")
    page.wait_for_selector(f"{NODE}[data-node-id='features.0'][data-match=true]", timeout=15_000)
    assert page.locator(f"{NODE}[data-node-id='features']").get_attribute("aria-expanded") == "true"
    search.fill("")
    page.wait_for_function("() => !document.querySelector('[data-match=true]')")

    # colour by a statistic at a step: nodes get scale colours and a legend
    fill = "(n) => n.querySelector('.node-box').getAttribute('fill')"
    page.select_option("[data-testid=graph-color]", "grad_norm")
    page.wait_for_function("() => location.hash.includes('stat=grad_norm')")
    page.wait_for_function("() => document.querySelector('[data-testid=graph-legend]')"
                           ".textContent.includes('Gradient norm')")
    fc2 = page.locator(f"{NODE}[data-node-id='fc2']")
    assert fc2.evaluate(fill).startswith("rgb(")
    step = page.locator("[data-testid=graph-step]")
    step.fill("0")
    step.dispatch_event("input")
    assert "step=0" in page.evaluate("location.hash")
    # an export of a coloured graph carries its legend
    with page.expect_download() as dl:
        page.click("[data-testid=graph-export]")
    coloured = open(dl.value.path(), encoding="utf-8").read()
    assert "Gradient norm at step 0" in coloured and "ds-legend-ramp" in coloured
    page.select_option("[data-testid=graph-color]", "dead_frac")
    page.wait_for_function("() => document.querySelector('[data-testid=graph-legend]')"
                           ".textContent.includes('Dead-unit share')")
    assert page.locator(f"{NODE}[data-node-id='features.1']").evaluate(fill).startswith("rgb(")
    page.select_option("[data-testid=graph-color]", "kind")
    page.wait_for_function("() => document.querySelector('[data-testid=graph-legend]')"
                           ".textContent.includes('operation')")
    assert not fc2.evaluate(fill).startswith("rgb(")

    # drag pans, the wheel zooms
    vp = page.locator(".view[data-view=graph] svg .viewport")
    before = vp.get_attribute("transform")
    box = page.locator("[data-testid=graph-canvas]").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.down()
    page.mouse.move(box["x"] + 140, box["y"] + 90, steps=5)
    page.mouse.up()
    panned = vp.get_attribute("transform")
    assert panned != before
    page.mouse.wheel(0, -300)
    page.wait_for_function("(t) => document.querySelector('.view[data-view=graph] svg .viewport')"
                           ".getAttribute('transform') !== t", arg=panned)

    # export downloads the drawn graph as a standalone SVG file
    with page.expect_download() as dl:
        page.click("[data-testid=graph-export]")
    svg = open(dl.value.path(), encoding="utf-8").read()
    assert dl.value.suggested_filename.endswith("-graph.svg")
    assert svg.startswith("<?xml") and "<svg" in svg and ">fc1<" in svg and "viewBox" in svg


def test_graph_link_selects_layer(page, server) -> None:
    """Finding cards link to graph?layer=...: the layer is shown selected."""
    rid = run_id(page, server.url, BROKEN)
    page.goto(f"{server.url}/#/run/{rid}/graph?layer=features.1&step=0&stat=dead_frac")
    _wait_graph(page)
    node = page.locator(f"{NODE}[data-node-id='features.1']")
    page.wait_for_function("(n) => n.classList.contains('selected')", arg=node.element_handle())
    assert page.locator("[data-testid=graph-color]").input_value() == "dead_frac"
    # clicking another node selects it and keeps it in the link
    page.locator(f"{NODE}[data-node-id='features.0']").click()
    page.wait_for_function("() => location.hash.includes('layer=features.0')")


def test_graph_not_recorded_placeholder(page, scale_server) -> None:
    rid = run_id(page, scale_server.url, "scalars-1m")
    page.goto(f"{scale_server.url}/#/run/{rid}/graph")
    box = page.locator(".view[data-view=graph] [data-testid=not-recorded]")
    box.wait_for()
    assert "run.log_graph(model, inputs)" in box.inner_text()


def test_graph_view_in_offline_report(offline_page, runs_root, tmp_path, spa) -> None:
    page = offline_page
    report_helpers._open(page, report_helpers._build(runs_root, BROKEN, tmp_path, spa))
    page.click("nav a[data-view=graph]")
    _wait_graph(page)
    _expand_collapse(page)
    _hover_shows_shape(page, "fc2")
    assert page.locator(f"{NODE}[data-finding]").count() >= 1
    page.select_option("[data-testid=graph-color]", "grad_norm")
    page.wait_for_function("() => document.querySelector('[data-testid=graph-legend]')"
                           ".textContent.includes('Gradient norm')")


HOSTILE = "<img src=x onerror=alert(3)>"


def test_graph_hostile_module_names_render_as_text(page, tmp_path, spa) -> None:
    """Module names come from user code: they must reach the page as text only."""
    import torch
    from browser_support import Server
    from torch import nn

    import deepscope as ds

    model = nn.Sequential(nn.ModuleDict({HOSTILE: nn.Linear(4, 4)}))
    model.forward = lambda x: model[0][HOSTILE](x)  # type: ignore[method-assign]
    with ds.init(name="hostile-graph", dir=tmp_path / "runs") as run:
        run.log_graph(model, (torch.randn(2, 4),))
        run.log({"train/loss": 1.0}, step=0)
    with Server(tmp_path / "runs", spa) as s:
        rid = run_id(page, s.url, "hostile-graph")
        page.goto(f"{s.url}/#/run/{rid}/graph?depth=9")
        _wait_graph(page)
        ids = page.locator(NODE).evaluate_all("ns => ns.map(n => n.dataset.nodeId)")
        hostile = next(i for i in ids if HOSTILE in i)
        node = page.locator(NODE).nth(ids.index(hostile))
        assert HOSTILE in node.text_content()
        node.hover()
        tip = page.locator(".view[data-view=graph] [role=tooltip]")
        tip.wait_for(state="visible")
        assert HOSTILE in tip.inner_text()
        page.locator("[data-testid=graph-search]").fill("onerror")
        page.wait_for_selector(f"{NODE}[data-match=true]")
        assert page.locator("main img, svg image, main script").count() == 0
        assert page.console.dialogs == []
