"""Runs compared in every view where it means something, metric columns, parallel coordinates."""

from __future__ import annotations

import json

import pytest
from browser_support import ARTIFACTS
from helpers import painted, run_id, wait_painted

pytestmark = pytest.mark.browser

HEALTHY, DEAD, OVERFIT = "demo-healthy-cnn", "demo-dead-relu-cnn", "demo-overfit-mlp"


def _open(page, base: str, a: str, b: str, view: str, query: str = "") -> tuple[str, str]:
    ra, rb = run_id(page, base, a), run_id(page, base, b)
    page.goto(f"{base}/#/run/{ra}/{view}?runs={rb}{'&' + query if query else ''}")
    page.wait_for_selector(f".view[data-view='{view}']")
    page.wait_for_function("() => !document.querySelector('.view .loading')")
    return ra, rb


def test_overview_compares_config_metrics_and_findings(page, server) -> None:
    _open(page, server.url, HEALTHY, DEAD, "overview")
    box = page.locator("[data-testid=comparison]")
    box.locator("[data-testid=finding-compare]").wait_for()
    assert f"{HEALTHY} vs {DEAD}" in box.locator("h2").inner_text()
    lr = box.locator("[data-testid=config-diff] tr", has_text="lr").first.inner_text()
    assert "0.001" in lr and "0.05" in lr
    dead = box.locator("[data-testid=finding-compare] tr", has_text="dead_units").inner_text()
    assert "error" in dead and dead.split("\t")[1].strip() == "–"  # only in the broken run
    metric = box.locator("[data-testid=metric-compare] tr", has_text="val/acc").inner_text()
    assert metric.count("best") == 2
    # the route's own run still has its metric cards
    assert page.locator("[data-testid=metric-card]").count() >= 4


def test_layer_health_shows_the_difference_of_two_runs(page, server) -> None:
    ra, rb = _open(page, server.url, HEALTHY, DEAD, "health")
    options = page.locator("[data-testid=health-show] option").evaluate_all(
        "os => os.map(o => o.value)")
    assert options == [f"run:{ra}", f"run:{rb}", f"diff:{rb}"]
    page.select_option("[data-testid=health-show]", f"diff:{rb}")
    page.wait_for_function("() => location.hash.includes('show=diff')")
    wait_painted(page, "[data-testid=health-heatmap]")
    assert "vs" in page.locator(".view section.card h3").first.inner_text()
    box = page.locator("[data-testid=health-heatmap] canvas").bounding_box()
    page.mouse.move(box["x"] + 230 + 0.5 * (box["width"] - 326), box["y"] + 8 + 10)
    tip = page.locator("[data-testid=health-heatmap] [role=tooltip]")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert HEALTHY in text and DEAD in text and "log10 ratio" in text, text
    # the gradient flow shows both runs side by side
    wait_painted(page, "[data-testid=gradient-flow]")
    # the compared run alone
    page.select_option("[data-testid=health-show]", f"run:{rb}")
    page.wait_for_function("(n) => document.querySelector('.view section.card h3')"
                           ".textContent.includes(n)", arg=DEAD)


def test_distributions_overlay_the_compared_run(page, server) -> None:
    _open(page, server.url, HEALTHY, DEAD, "distributions", "layer=fc1&kind=weight")
    charts = page.locator("[data-testid=distribution-chart]")
    charts.first.wait_for()
    assert charts.count() == 2  # one histogram panel per run
    for i in range(2):
        wait_painted(page, f"[data-testid=distribution-chart] >> nth={i}")
    titles = page.locator(".view .chart-card h3").all_text_contents()
    assert titles[0].startswith(HEALTHY) and titles[1].startswith(DEAD)
    wait_painted(page, "[data-testid=stat-bands]")
    legend = page.evaluate("""() => window.deepscope.chartOf(
        document.querySelector('[data-testid=stat-bands]')).getOption().legend[0].data""")
    assert f"{HEALTHY}: mean" in legend and f"{DEAD}: mean" in legend


def test_graph_is_coloured_by_the_difference(page, server) -> None:
    ra, rb = _open(page, server.url, HEALTHY, DEAD, "graph")
    page.wait_for_selector("[data-testid=graph-node]")
    page.select_option("[data-testid=graph-color]", f"diff:{rb}:grad_norm")
    page.wait_for_function("() => document.querySelector('[data-testid=graph-legend]')"
                           ".textContent.includes('−')")
    legend = page.locator("[data-testid=graph-legend]").inner_text()
    assert HEALTHY in legend and DEAD in legend and "log10 ratio" in legend
    assert f"stat=diff%3A{rb}%3Agrad_norm" in page.url or f"stat=diff:{rb}:grad_norm" in page.url
    # at the latest step both runs recorded, the layers are filled from the blue-white-red scale
    # (the dead run's exact zeros as the saturated end, not left blank)
    fills = page.locator("[data-testid=graph-node][data-node-id=fc2] rect").evaluate_all(
        "rs => rs.map(r => r.getAttribute('fill'))")
    assert any(f and f.startswith("rgb(") for f in fills), fills
    assert int(page.locator("[data-testid=graph-step]").input_value()) > 0


def test_runs_table_metric_columns_and_parallel_coordinates(page, server) -> None:
    page.goto(f"{server.url}/#/runs")
    page.wait_for_selector("[data-testid=run-row]")
    # a first look: the best of the two leading metrics (validation loss first)
    page.wait_for_selector("th[data-col='metric:best:val/loss']")
    page.select_option("[data-testid=metric-tag]", "train/loss")
    page.select_option("[data-testid=metric-how]", "last")
    page.click("[data-testid=metric-add]")
    col = "metric:last:train/loss"
    page.wait_for_selector(f"th[data-col='{col}']")
    m = json.loads(page.evaluate("() => new URLSearchParams(location.hash.split('?')[1]).get('m')"))
    assert ["train/loss", "last"] in m
    # each cell is the run's last logged train/loss, exactly
    rid = run_id(page, server.url, OVERFIT)
    series = page.request.get(f"{server.url}/api/runs/{rid}/scalars/series",
                              params={"tag": "train/loss", "max_points": 100000}).json()
    cell = page.locator(f"tr[data-run-id='{rid}'] td[data-col='{col}'] [data-testid=metric-cell]")
    cell.wait_for()
    assert float(cell.get_attribute("data-value")) == pytest.approx(series["values"][-1])
    # sorted by the column: ascending values, runs without the tag last
    page.click(f"th[data-col='{col}'] button.sort")
    page.wait_for_timeout(200)
    values = [float(v) for v in page.locator(f"td[data-col='{col}'] [data-testid=metric-cell]")
              .evaluate_all("cs => cs.map(c => c.dataset.value)") if v]
    assert values == sorted(values) and len(values) >= 5
    # parallel coordinates: config values against the chosen metric, one line per run
    wait_painted(page, "[data-testid=parallel-coordinates]")
    option = page.evaluate("""() => window.deepscope.chartOf(
        document.querySelector('[data-testid=parallel-coordinates]')).getOption()""")
    axes = [a["name"] for a in option["parallelAxis"]]
    assert "lr" in axes and axes[-1] == "val/loss (best)"
    assert "mistake" not in axes  # free text makes no axis
    assert len(option["series"][0]["data"]) == page.locator("[data-testid=run-row]").count()
    before = painted(page, "[data-testid=parallel-coordinates]")
    page.fill("[data-testid=runs-filter]", "demo")  # fewer runs shown, fewer lines
    page.wait_for_timeout(300)
    assert painted(page, "[data-testid=parallel-coordinates]") != before
    # a metric column is removed with its ×
    page.locator(f"th[data-col='{col}'] [data-testid=metric-remove]").click()
    page.wait_for_function(f"() => !document.querySelector(\"th[data-col='{col}']\")")


def _predictions(page, base: str, rid: str) -> dict:
    infos = page.request.get(f"{base}/api/runs/{rid}/artifacts").json()
    last = [a for a in infos if a["kind"] == "predictions"][-1]
    return page.request.get(f"{base}/api/runs/{rid}/artifacts/{last['id']}").json()["data"]


def test_predictions_compare_accuracy_and_recall_per_class(page, server) -> None:
    ra, rb = _open(page, server.url, HEALTHY, DEAD, "predictions")
    wait_painted(page, "[data-testid=recall-compare]")
    table = page.locator("[data-testid=predictions-compare]")
    for rid in (ra, rb):
        want = _predictions(page, server.url, rid)
        row = table.locator(f"tr[data-run-id='{rid}']").inner_text()
        assert f"{want['accuracy']:.4f}" in row and str(want["n"]) in row, row
    # one bar series per run, each bar the stored recall of that class
    option = page.evaluate("""() => window.deepscope.chartOf(
        document.querySelector('[data-testid=recall-compare]')).getOption()""")
    dead = _predictions(page, server.url, rb)
    assert [s["name"] for s in option["series"]] == [HEALTHY, DEAD]
    assert option["series"][1]["data"] == pytest.approx(dead["recall"])
    page.screenshot(path=str(ARTIFACTS / "predictions-compared.png"), full_page=True)
    # a compared run that stored no predictions says so
    nan_id = run_id(page, server.url, "demo-nan-softmax")
    page.goto(f"{server.url}/#/run/{ra}/predictions?runs={nan_id}")
    row = page.locator(f"[data-testid=predictions-compare] tr[data-run-id='{nan_id}']")
    assert "no predictions stored" in row.inner_text()
    assert page.locator("[data-testid=recall-compare]").get_attribute("data-runs") == "1"


def test_weights_compare_spectra_and_verdicts_per_layer(page, server) -> None:
    ra, rb = _open(page, server.url, HEALTHY, DEAD, "weights", "layer=fc1")
    table = page.locator("[data-testid=weights-compare]")
    table.wait_for()
    infos = page.request.get(f"{server.url}/api/runs/{rb}/artifacts").json()
    art = [a for a in infos if a["kind"] == "weights"][-1]
    dead = {e["name"]: e for e in page.request.get(
        f"{server.url}/api/runs/{rb}/artifacts/{art['id']}").json()["data"]["layers"]}
    cell = table.locator(f"tr[data-layer='fc1'] td[data-run-id='{rb}']")
    want = dead["fc1"]
    alpha = "–" if want["alpha"] is None else f"{want['alpha']:.2f}"
    assert f"alpha {alpha}" in cell.inner_text()
    assert cell.locator("[data-quality]").get_attribute("data-quality") == want["quality"]
    # the chosen layer's spectrum of both runs on one chart, each in its run's colour
    wait_painted(page, "[data-testid=weights-spectrum]")
    option = page.evaluate("""() => window.deepscope.chartOf(
        document.querySelector('[data-testid=weights-spectrum]')).getOption()""")
    names = [s["name"] for s in option["series"]]
    assert HEALTHY in names and DEAD in names, names
    assert any(n.startswith(f"{DEAD}: power law") for n in names) == (want["alpha"] is not None)
    n_dead = len([v for v in want["singular_values"] if v > 0])
    assert len(option["series"][names.index(DEAD)]["data"]) == n_dead
    page.screenshot(path=str(ARTIFACTS / "weights-compared.png"), full_page=True)
    # a compared run without stored weights says so
    overfit = run_id(page, server.url, OVERFIT)
    page.goto(f"{server.url}/#/run/{ra}/weights?runs={overfit}")
    cell = f"[data-testid=weights-compare] tr[data-layer='fc1'] td[data-run-id='{overfit}']"
    assert "no weights stored" in page.locator(cell).inner_text()
