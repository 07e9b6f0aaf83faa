"""Page probes shared by the browser tests."""

from __future__ import annotations

import time

#: Count canvas pixels that are neither transparent nor near-white, in every canvas under root.
PAINTED_JS = """(root) => [...root.querySelectorAll('canvas')].map((c) => {
  const ctx = c.getContext('2d');
  if (!ctx || !c.width || !c.height) return 0;
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 16) {
    if (d[i + 3] > 0 && (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235)) n++;
  }
  return n;
})"""


def painted(page: object, selector: str) -> list[int]:
    """Painted-pixel counts (sampled every 4th pixel) of the canvases under ``selector``."""
    return page.locator(selector).first.evaluate(PAINTED_JS)


def wait_painted(page: object, selector: str, minimum: int = 200, timeout: float = 30) -> list[int]:
    """Wait until some canvas under ``selector`` has at least ``minimum`` painted samples."""
    deadline = time.monotonic() + timeout
    counts: list[int] = []
    while time.monotonic() < deadline:
        if page.locator(selector).count():
            counts = painted(page, selector)
            if counts and max(counts) >= minimum:
                return counts
        page.wait_for_timeout(100)
    raise AssertionError(f"no painted canvas under {selector}: {counts}")


def run_id(page: object, base: str, name: str) -> str:
    """The id of the run called ``name`` (from the runs API, through the page's own origin)."""
    runs = page.request.get(f"{base}/api/runs").json()
    return next(r["id"] for r in runs if r["name"] == name)
