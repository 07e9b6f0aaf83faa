"""The explain views in Chromium on the demo runs (which log attributions, an embedding,
predictions and weights): real pictures, working controls, no console errors."""

from __future__ import annotations

import pytest
from helpers import run_id, wait_painted

pytestmark = pytest.mark.browser

HEALTHY = "demo-healthy-cnn"


def _open(page, server, view: str, query: str = "") -> None:
    rid = run_id(page, server.url, HEALTHY)
    page.goto(f"{server.url}/#/run/{rid}/{view}{'?' + query if query else ''}")
    page.wait_for_selector(f".view[data-view='{view}']")
    page.wait_for_function("() => !document.querySelector('.view .loading')")


def _images_loaded(page, selector: str) -> int:
    page.wait_for_function(
        """(s) => { const imgs = [...document.querySelectorAll(s)];
          return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }""",
        arg=selector,
    )
    return page.locator(selector).count()


def test_attribution_gallery_switches_method_and_opacity(page, server) -> None:
    _open(page, server, "attributions")
    items = page.locator("[data-testid=attribution-item]")
    page.wait_for_selector("[data-testid=attribution-item]")
    assert items.count() == 16
    # input, attribution map with its signed scale, and the overlay, for every sample
    assert _images_loaded(page, "[data-testid=attribution-item] img") == 48  # input x 2, heat map
    maps = page.locator("[data-testid=attribution-item] [data-testid=attribution-map]")
    assert maps.count() == 16
    # a fine-grained method leads (not the 2x2-cell Grad-CAM of the last conv layer)
    assert page.locator(".view h3").first.inner_text().startswith("integrated_gradients")
    scale = page.locator("[data-testid=attribution-scale]").inner_text()
    assert "−max" in scale and "+max" in scale and "lowers" in scale
    page.check("[data-testid=attribution-shared]")
    page.wait_for_function("() => /[−]\\d/.test("
                           "document.querySelector('[data-testid=attribution-scale]').textContent)")
    assert "scale=shared" in page.url
    methods = page.locator("[data-testid=attribution-method] option").all_text_contents()
    assert "integrated_gradients" in methods[0] and "grad_cam" in methods[-1]
    assert any("grad_cam" in m for m in methods) and any("saliency" in m for m in methods)
    grad_cam = next(m for m in methods if "grad_cam" in m)
    page.select_option("[data-testid=attribution-method]", label=grad_cam)
    page.wait_for_function(
        "() => document.querySelector('.view h3')?.textContent.startsWith('grad_cam')")
    heat = page.locator("[data-testid=attribution-item] img[alt^=attribution]").first
    page.locator("[data-testid=attribution-opacity]").fill("0.2")
    assert heat.evaluate("i => i.style.opacity") == "0.2"
    assert "opacity=0.2" in page.url


def test_embedding_scatter_hover_thumbnail_neighbours_and_search(page, server) -> None:
    _open(page, server, "embeddings")
    wait_painted(page, "[data-testid=embedding-chart]")
    title = page.locator(".view h3").first.inner_text()
    assert "fc1" in title and "360 points" in title
    # Click the centre of a point: read a point's pixel position from the chart instance.
    box = page.locator("[data-testid=embedding-chart] canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    clicked = False
    for dx in range(-200, 201, 8):
        for dy in (-40, 0, 40):
            page.mouse.click(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dy)
            if page.locator("[data-testid=embedding-neighbours]").count():
                clicked = True
                break
        if clicked:
            break
    assert clicked, "no point could be clicked"
    assert page.locator("[data-testid=embedding-neighbours] canvas").count() == 10
    # Search by #index selects that point.
    page.fill("[data-testid=embedding-search]", "#5")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=embedding-details] strong')"
        "?.textContent.startsWith('selected #5')")


def test_predictions_confusion_calibration_and_mistakes(page, server) -> None:
    _open(page, server, "predictions")
    wait_painted(page, "[data-testid=confusion-matrix]")
    wait_painted(page, "[data-testid=calibration]")
    assert page.locator("[data-testid=per-class] tbody tr").count() == 10
    heading = page.locator(".view h3").first.inner_text()
    assert "on 360 samples" in heading
    if page.locator("[data-testid=mistake]").count():
        _images_loaded(page, "[data-testid=mistake] img")
        page.locator("[data-testid=mistake]").first.click()
        wait_painted(page, "[data-testid=sample-probabilities]")


def test_weights_filters_spectrum_and_table(page, server) -> None:
    _open(page, server, "weights")
    _images_loaded(page, "[data-testid=weights-image] img")
    wait_painted(page, "[data-testid=weights-spectrum]")
    rows = page.locator("[data-testid=weights-table] tbody tr")
    assert rows.count() == 4
    page.select_option("[data-testid=weights-layer]", "fc1")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=weights-image] img')?.alt === 'fc1 weights'")
    assert "layer=fc1" in page.url


def test_importance_ranks_features_with_confidence_intervals(page, server) -> None:
    _open(page, server, "importance")
    wait_painted(page, "[data-testid=importance-chart]")
    host = page.locator("[data-testid=importance-chart]")
    rid = run_id(page, server.url, HEALTHY)
    info = next(a for a in page.request.get(f"{server.url}/api/runs/{rid}/artifacts").json()
                if a["kind"] == "feature_importance")
    data = page.request.get(f"{server.url}/api/runs/{rid}/artifacts/{info['id']}").json()["data"]
    assert host.get_attribute("data-top") == data["feature_names"][data["order"][0]]
    assert host.get_attribute("data-features") == "30"
    assert "permutation importance" in page.locator(".view .card p").first.inner_text()
    page.select_option("[data-testid=importance-top]", "10")
    page.wait_for_function("() => document.querySelector('[data-testid=importance-chart]')"
                           ".dataset.features === '10'")


def test_decision_boundary_map_with_points(page, server) -> None:
    _open(page, server, "boundary")
    wait_painted(page, "[data-testid=boundary-map]", minimum=5000)
    host = page.locator("[data-testid=boundary-map]")
    assert host.get_attribute("data-points") == "180"
    assert int(host.get_attribute("data-misclassified")) < 60
    assert "pca plane" in page.locator(".view .card p").first.inner_text()


def test_maximization_images_per_channel(page, server) -> None:
    _open(page, server, "maximization")
    assert _images_loaded(page, "[data-testid=maximization-item] img") == 8
    caption = page.locator("[data-testid=maximization-item] figcaption").first.inner_text()
    assert caption.startswith("channel 0:") and "→" in caption
    assert "features.2" in page.locator(".view h3").first.inner_text()
