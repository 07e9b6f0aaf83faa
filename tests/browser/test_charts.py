"""Charts say what the data says: the band read back from the drawn pixels, exact zeros, exports."""

from __future__ import annotations

import pytest
from helpers import run_id, wait_painted

pytestmark = pytest.mark.browser

#: Pixels of the drawn band (the run's blue at 18% opacity, over the transparent canvas or a grid
#: line): top and bottom row a few pixels right of a step (off the vertical grid lines), mapped
#: back to data values with the chart's own axis transform.
BAND_JS = """([host, steps]) => {
  const chart = window.deepscope.chartOf(host);
  const canvas = host.querySelector('canvas');
  const g = canvas.getContext('2d');
  const dpr = canvas.width / canvas.clientWidth;
  const band = (r, gr, b, a) => (a > 20 && a < 90 && b > r + 100)
    || (a === 255 && b - r > 20 && r > 150);
  return steps.map((step) => {
    const px = chart.convertToPixel({ gridIndex: 0 }, [step, 0])[0] + 3;
    const x = Math.round(px * dpr);
    const d = g.getImageData(x, 0, 1, canvas.height).data;
    const rows = [];
    for (let y = 0; y < canvas.height; y++) {
      if (band(d[4 * y], d[4 * y + 1], d[4 * y + 2], d[4 * y + 3])) rows.push(y);
    }
    const top = chart.convertFromPixel({ gridIndex: 0 }, [px, rows[0] / dpr])[1];
    const bottom = chart.convertFromPixel({ gridIndex: 0 }, [px, rows[rows.length - 1] / dpr])[1];
    const perPx = Math.abs(chart.convertFromPixel({ gridIndex: 0 }, [px, 0])[1]
      - chart.convertFromPixel({ gridIndex: 0 }, [px, 1])[1]);
    return { step, top, bottom, perPx, rows: rows.length };
  });
}"""


def test_band_is_drawn_from_mean_minus_std_to_mean_plus_std(page, band_server) -> None:
    rid = run_id(page, band_server.url, "known-stats")
    page.goto(f"{band_server.url}/#/run/{rid}/distributions?layer=dense&kind=weight")
    wait_painted(page, "[data-testid=stat-bands]")
    page.wait_for_timeout(300)
    host = page.locator("[data-testid=stat-bands]").element_handle()
    got = page.evaluate(BAND_JS, [host, [20, 80]])
    for g, (mean, std) in zip(got, [(-2.0, 3.0), (4.9, 6.0)], strict=True):
        tol = 2.5 * g["perPx"] + 0.02 * std
        print(f"step {g['step']}: band drawn {g['bottom']:.3f}..{g['top']:.3f}, "
              f"expected {mean - std:.3f}..{mean + std:.3f} (±{tol:.3f})")
        assert g["rows"] > 5
        assert g["top"] == pytest.approx(mean + std, abs=tol)
        assert g["bottom"] == pytest.approx(mean - std, abs=tol)


def test_a_recorded_zero_gradient_norm_is_not_drawn_as_missing(page, band_server) -> None:
    rid = run_id(page, band_server.url, "known-stats")
    page.goto(f"{band_server.url}/#/run/{rid}/health?stat=grad_norm")
    wait_painted(page, "[data-testid=health-heatmap]")
    canvas = page.locator("[data-testid=health-heatmap] canvas")
    box = canvas.bounding_box()
    # 2 rows x 20 steps; the plot spans x 230 .. width - 96 and y 8 .. height - 34.
    x = box["x"] + 230 + (16.5 / 20) * (box["width"] - 326)  # step 80
    y = box["y"] + 8 + 1.5 * (box["height"] - 42) / 2        # row "stuck"
    page.mouse.move(x, y)
    tip = page.locator("[data-testid=health-heatmap] [role=tooltip]")
    tip.wait_for(state="visible")
    assert "stuck" in tip.inner_text() and "0 (exactly)" in tip.inner_text()
    rgb = canvas.evaluate("""(c, [x, y]) => { const r = c.getBoundingClientRect();
      const dpr = c.width / r.width;
      return [...c.getContext('2d').getImageData(Math.round((x - r.left) * dpr),
        Math.round((y - r.top) * dpr), 1, 1).data].slice(0, 3); }""", [x, y])
    assert rgb == [231, 41, 138], rgb  # the "= 0" colour, not the grey of "not recorded"
    page.mouse.move(x, box["y"] + 8 + 0.5 * (box["height"] - 42) / 2)  # row "dense"
    page.wait_for_function(
        "() => !document.querySelector('[role=tooltip]').textContent.includes('stuck')")
    assert "0 (exactly)" not in tip.inner_text()


def _download(page, selector: str) -> tuple[str, bytes]:
    with page.expect_download() as dl:
        page.locator(selector).click()
    path = dl.value.path()
    return dl.value.suggested_filename, open(path, "rb").read()


def test_every_chart_exports_png_and_svg(page, band_server) -> None:
    rid = run_id(page, band_server.url, "known-stats")
    page.goto(f"{band_server.url}/#/run/{rid}/distributions?layer=dense&kind=weight")
    wait_painted(page, "[data-testid=stat-bands]")
    bars = page.locator("[data-testid=chart-export]")
    assert bars.count() == page.locator(".view .chart").count() >= 2  # one bar per chart
    card = "section.card:has([data-testid=stat-bands])"
    name, png = _download(page, f"{card} [data-testid=export-png]")
    assert name.endswith(".png") and png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000
    name, svg = _download(page, f"{card} [data-testid=export-svg]")
    text = svg.decode()
    assert name.endswith(".svg") and "<svg" in text and "mean" in text and "<path" in text
    # the canvas heatmap: PNG of what is drawn, SVG with the layer names as text
    page.goto(f"{band_server.url}/#/run/{rid}/health?stat=grad_norm")
    wait_painted(page, "[data-testid=health-heatmap]")
    heat = "section.card:has([data-testid=health-heatmap])"
    name, png = _download(page, f"{heat} [data-testid=export-png]")
    assert png.startswith(b"\x89PNG")
    _, svg = _download(page, f"{heat} [data-testid=export-svg]")
    text = svg.decode()
    assert ">stuck<" in text and ">dense<" in text and "<image" in text and "= 0" in text
