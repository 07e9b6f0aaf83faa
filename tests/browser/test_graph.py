"""The graph view: nodes drawn, a module expanded and collapsed, search, findings marked.

Uses the test hooks documented in web/README.md ("Test hooks"). Skipped while no view with id
``graph`` is registered in the SPA.
"""

from __future__ import annotations

import time

import pytest
from helpers import run_id

pytestmark = pytest.mark.browser

NODE = "[data-testid=graph-node]"


def _node(page: object, node_id: str) -> object:
    return page.locator(f"{NODE}[data-node-id='{node_id}']")


def _open_graph(page: object, base: str, name: str) -> None:
    rid = run_id(page, base, name)
    page.goto(f"{base}/#/run/{rid}/overview")
    page.wait_for_selector("nav a[data-view]")
    if page.locator("nav a[data-view=graph]").count() == 0:
        pytest.skip("no graph view registered in the SPA")
    page.goto(f"{base}/#/run/{rid}/graph")
    page.wait_for_selector(f".view[data-view=graph] {NODE}", timeout=20_000)


def test_graph_expand_collapse_and_search(page, server) -> None:
    t0 = time.monotonic()
    _open_graph(page, server.url, "demo-dead-relu-cnn")
    print(f"graph: first nodes after {time.monotonic() - t0:.2f} s")
    collapsed = page.locator(f"{NODE}[aria-expanded=false]")
    expanded = page.locator(f"{NODE}[aria-expanded=true]")
    if collapsed.count() == 0:
        # everything open: collapse one module first, then expand it again
        target = expanded.first.get_attribute("data-node-id")
        before = page.locator(NODE).count()
        expanded.first.locator("[data-testid=graph-toggle]").click()
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length < n", arg=[NODE, before])
    else:
        target = collapsed.first.get_attribute("data-node-id")
    node = page.locator(f"{NODE}[data-node-id='{target}']")
    before = page.locator(NODE).count()
    node.locator("[data-testid=graph-toggle]").click()
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length > n",
                           arg=[NODE, before], timeout=10_000)
    assert _node(page, target).get_attribute("aria-expanded") == "true"
    opened = page.locator(NODE).count()
    page.locator(f"{NODE}[data-node-id='{target}'] [data-testid=graph-toggle]").click()
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length < n",
                           arg=[NODE, opened], timeout=10_000)
    assert _node(page, target).get_attribute("aria-expanded") == "false"
    # search finds a layer by name
    search = page.locator("[data-testid=graph-search]")
    search.fill("fc1")
    search.press("Enter")
    page.wait_for_selector(f"{NODE}[data-match=true]", timeout=5_000)
    assert "fc1" in page.locator(f"{NODE}[data-match=true]").first.get_attribute("data-node-id")
    # the broken run's findings are marked on their layers
    assert page.locator(f"{NODE}[data-finding]").count() >= 1
