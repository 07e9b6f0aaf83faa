"""The single-file report opened from file:// with every network request blocked."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, Console
from helpers import wait_painted
from runs import XSS_NAME

from deepscope.store.catalog import find_runs

pytestmark = pytest.mark.browser


def _run_dir(root: Path, name: str) -> Path:
    from deepscope.store import open_reader

    for _, path in find_runs(root):
        with open_reader(path) as r:
            if r.meta().name == name:
                return path
    raise LookupError(name)


@pytest.fixture()
def offline_page(browser, request):
    """A page in which any request other than the report file itself is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.console = Console(page)
    page.blocked = []

    def route(r: object) -> None:
        if r.request.url == page.report_url:
            r.continue_()
        else:
            page.blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert page.blocked == [], f"the report tried to load {page.blocked}"
    assert page.console.errors == [], page.console.errors
    assert page.console.dialogs == []


def _open(page: object, report: Path) -> None:
    page.report_url = report.resolve().as_uri()
    page.goto(page.report_url)
    page.wait_for_selector("[data-testid=mode]")
    assert page.locator("[data-testid=mode]").inner_text() == "report"


def _build(runs_root: Path, name: str, tmp_path: Path, spa: Path) -> Path:
    from deepscope.report.build import build_report

    out = build_report(_run_dir(runs_root, name), tmp_path / "report.html", static_dir=spa)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")
    shutil.copy(out, ARTIFACTS / f"report-{slug}.html")
    return out


def test_report_renders_every_view_offline(offline_page, runs_root, tmp_path, spa) -> None:
    page = offline_page
    report = _build(runs_root, "demo-dead-relu-cnn", tmp_path, spa)
    _open(page, report)
    page.wait_for_selector("[data-testid=finding-card]")
    views = page.locator("nav a[data-view]").evaluate_all("as => as.map(a => a.dataset.view)")
    assert {"overview", "scalars", "health", "distributions"} <= set(views)
    for view in views:
        page.click(f"nav a[data-view='{view}']")
        page.wait_for_selector(f".view[data-view='{view}']")
        page.wait_for_function("() => !document.querySelector('.view .loading')")
        assert page.locator(".view .error-box").count() == 0, view
        page.screenshot(path=str(ARTIFACTS / f"report-view-{view}.png"), full_page=True)
    page.click("nav a[data-view=scalars]")
    wait_painted(page, "[data-tag='train/loss']")
    page.click("nav a[data-view=health]")
    wait_painted(page, "[data-testid=health-heatmap]")
    page.click("nav a[data-view=distributions]")
    wait_painted(page, "[data-testid=distribution-chart]")


def test_report_shows_hostile_run_name_as_text(offline_page, runs_root, tmp_path, spa) -> None:
    page = offline_page
    _open(page, _build(runs_root, XSS_NAME, tmp_path, spa))
    page.wait_for_selector(".card h2")
    assert page.locator(".card h2").first.inner_text().startswith(XSS_NAME)
    assert page.locator("main img").count() == 0
    assert page.title().startswith(f"deepscope · {XSS_NAME}")


DEMO = ("demo-healthy-cnn", "demo-nan-softmax", "demo-vanishing-sigmoid", "demo-dead-relu-cnn",
        "demo-overfit-mlp")


def test_report_of_several_runs_compares_them_offline(offline_page, runs_root, tmp_path,
                                                      spa) -> None:
    from deepscope.report.build import build_report

    page = offline_page
    dirs = [_run_dir(runs_root, name) for name in DEMO]
    report = build_report(dirs, tmp_path / "cmp.html", static_dir=spa)
    size = report.stat().st_size
    print(f"report of {len(dirs)} demo runs: {size / 1e6:.2f} MB")
    shutil.copy(report, ARTIFACTS / "report-demo-comparison.html")
    _open(page, report)
    # several runs: the report opens on their table, with metric columns
    page.wait_for_selector("[data-testid=run-row]")
    assert page.locator("[data-testid=run-row]").count() == len(DEMO)
    page.wait_for_selector("th[data-col='metric:best:val/loss'] ")
    page.wait_for_selector("[data-testid=metric-cell]")
    for name in ("demo-healthy-cnn", "demo-dead-relu-cnn"):
        page.locator("tr", has=page.locator(f"td[data-col=name] >> text='{name}'")).locator(
            "input[type=checkbox]").check()
    page.click("[data-testid=compare]")
    wait_painted(page, "[data-testid=scalar-chart]")
    assert page.locator("[data-testid=compare-chips] .chip").count() == 1
    page.click("nav a[data-view=health]")
    page.wait_for_selector("[data-testid=health-show]")
    value = page.locator("[data-testid=health-show] option").nth(2).get_attribute("value")
    page.select_option("[data-testid=health-show]", value)
    wait_painted(page, "[data-testid=health-heatmap]")
    # exports work from a file opened offline too
    with page.expect_download() as dl:
        page.locator("section.card:has([data-testid=health-heatmap]) [data-testid=export-svg]"
                     ).click()
    assert "<svg" in open(dl.value.path(), encoding="utf-8").read()
    with page.expect_download() as dl:
        page.locator("section.card:has([data-testid=gradient-flow]) [data-testid=export-png]"
                     ).click()
    assert open(dl.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    page.click("nav a[data-view=overview]")
    page.wait_for_selector("[data-testid=finding-compare]")
    assert "dead_units" in page.locator("[data-testid=finding-compare]").inner_text()
    # the compared run's stored results travel in the report: predictions side by side
    page.click("nav a[data-view=predictions]")
    page.wait_for_selector("[data-testid=predictions-compare]")
    rows = page.locator("[data-testid=predictions-compare] tbody tr").all_inner_texts()
    assert len(rows) == 2 and "no predictions stored" not in rows[1], rows
    wait_painted(page, "[data-testid=recall-compare]")
