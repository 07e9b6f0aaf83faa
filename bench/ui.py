"""Time to first chart: deepscope's dashboard vs TensorBoard serving the same data, in one run.

Two data sets, each written for both tools in this run:

* ``scalars``: one tag with N points (default 1,000,000). deepscope: ``RunWriter`` chunks.
  TensorBoard: one event file of ``Event(simple_value)`` records (what ``add_scalar`` writes,
  encoded with numpy because ``SummaryWriter.add_scalar`` costs ~140 us/point here).
* ``stats``: L layers x S sampled steps (default 200 x 1,000). deepscope: full statistic rows
  (11 fields, kind ``grad``) through ``RunWriter.log_stats``. TensorBoard: the one statistic the
  chart shows, the gradient norm, as ``add_scalar("grad_norm/layer_NNN", ...)`` per layer and
  step (200 tags x 1,000 points), the usual way to log per-layer norms to TensorBoard.

Both servers run as subprocesses on 127.0.0.1 (TensorBoard with its defaults, i.e. the Rust data
server when installed and 1,000-point reservoir sampling per scalar tag). Measured:

* ``ready``: process start until it answers HTTP (the CLI imports neither torch nor the explain
  code to serve the dashboard).
* ``data``: from the first request after ``ready`` until the data a chart needs has been fully
  received over HTTP. deepscope: one downsampled request (``/scalars/series``, 2,000 min/max
  points; ``/stats`` grad-norm matrix, all layers and steps). TensorBoard: ``/data/plugin/scalars``
  polled until its reload has loaded everything (tag list complete, last step present, every
  layer tag fetched with 6 parallel connections like a browser).
* ``warm``: median of 5 repeated data requests once loaded.
* ``chart`` (when Chromium is available): on a freshly started server, page load until the first
  chart is drawn (its data response received and the chart painted, plus two animation frames).
  deepscope: the Scalars view, and the Layer health view (grad-norm heatmap of all layers, 500
  steps); TensorBoard: its default Time Series page, first card (one tag).
* ``start + data``: ``ready`` plus ``data, first``.

A third data set, ``big``, is a GPT-2 medium run (246 watched layers, ``--big-steps`` sampled
steps, written by ``bench/big_model.py`` from the real layer names of a meta-device model) plus
a 500-layer x 2,000-step matrix. The anchor is deepscope's own JSON form of ``/stats``; the
dashboard asks for the binary form. Measured: answer size, cold (first request of a fresh
server) and warm request times of both forms, and in Chromium the Layer health page until its
heatmap is painted, and the redraw after "Expand all" (all 172 block rows).

Usage: ``python bench/ui.py [--points 1000000] [--layers 200] [--steps 1000] [--big-steps 500]
[--only scalars,stats,big] [--no-browser]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import big_model  # noqa: E402
import tb_events  # noqa: E402

from deepscope.store.records import LayerInfo  # noqa: E402
from deepscope.store.schema import STAT_FIELDS  # noqa: E402
from deepscope.store.writer import RunWriter  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT = 600.0  # bound on every wait


# -- data ------------------------------------------------------------------------------------
def loss_curve(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.arange(n)
    return 2.0 / np.sqrt(1 + x / 100) + 0.05 * rng.standard_normal(n)


def grad_norms(layers: int, steps: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    depth = np.linspace(1.0, 0.01, layers)[:, None]
    return depth * np.exp(0.3 * rng.standard_normal((layers, steps)))


def write_deepscope(root: Path, points: int, layers: int, steps: int) -> None:
    w = RunWriter(root / "scalars", meta={"name": "scalars", "config": {}})
    chunk = 100_000
    values, walls = loss_curve(points), 1.7e9 + np.arange(points) * 0.01
    for lo in range(0, points, chunk):
        s = np.arange(lo, min(points, lo + chunk))
        w.log_scalar_arrays("train/loss", s, values[s], walls[s])
    w.close()
    w = RunWriter(root / "stats", meta={"name": "stats", "config": {}})
    names = [f"layer_{i:03d}" for i in range(layers)]
    w.set_layers([LayerInfo(n, "Linear", "other", i, 100, 100) for i, n in enumerate(names)])
    norms = grad_norms(layers, steps)
    norm_col = STAT_FIELDS.index("norm")
    for j in range(steps):
        base = np.full((layers, len(STAT_FIELDS)), 0.5)
        base[:, norm_col] = norms[:, j]
        w.log_stats(j, [(n, "grad", base[i]) for i, n in enumerate(names)])
    w.close()
    # close() waits at most 120 s for the writer thread; on a busy machine 1M queued rows take
    # longer, and a server started before they land answers with an empty matrix.
    w.wait_closed(timeout=TIMEOUT)


def write_tensorboard(logdir: Path, points: int, layers: int, steps: int) -> None:
    s = np.arange(points, dtype=np.int64)
    tb_events.write_scalars(logdir / "scalars", ["train/loss"], np.zeros(points, np.int64), s,
                            loss_curve(points), 1.7e9 + s * 0.01)
    tags = [f"grad_norm/layer_{i:03d}" for i in range(layers)]
    step_major = np.repeat(np.arange(steps, dtype=np.int64), layers)
    tag_idx = np.tile(np.arange(layers), steps)
    values = grad_norms(layers, steps).T.reshape(-1)
    tb_events.write_scalars(logdir / "stats", tags, tag_idx, step_major, values,
                            1.7e9 + step_major * 0.1)


# -- servers ---------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout: float = 120.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - 127.0.0.1 only
        return resp.read()


def get_json(url: str) -> object:
    return json.loads(get(url))


def wait_until(check: Callable[[], bool], what: str, interval: float = 0.05) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < TIMEOUT:
        try:
            if check():
                return time.perf_counter() - t0
        except (OSError, ValueError):
            pass
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {TIMEOUT:.0f} s")


class Server:
    """A server subprocess on 127.0.0.1 and the time it took to answer ``probe``."""

    def __init__(self, cmd: list[str], port: int, probe: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.ready = wait_until(lambda: self._alive() and bool(get(self.base + probe, 5)),
                                f"{cmd[0]} on port {port}")

    def _alive(self) -> bool:
        if self.proc.poll() is not None:
            raw = self.proc.stderr.read() if self.proc.stderr else b""
            err = raw.decode(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {self.proc.returncode}: {err}")
        return True

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)


def start_deepscope(root: Path) -> Server:
    port = free_port()
    exe = Path(sys.executable).with_name("deepscope")
    return Server([str(exe), "ui", str(root), "--port", str(port)], port, "/api/health")


def start_tensorboard(logdir: Path) -> Server:
    port = free_port()
    exe = shutil.which("tensorboard", path=str(Path(sys.executable).parent)) or "tensorboard"
    return Server([exe, "--logdir", str(logdir), "--port", str(port), "--host", "127.0.0.1"],
                  port, "/data/runs")


# -- HTTP: time until a chart's data is fully received ---------------------------------------
def q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def ds_scalars_check(base: str, points: int) -> Callable[[], bool]:
    url = f"{base}/api/runs/scalars/scalars/series?tag={q('train/loss')}&max_points=2000"
    return lambda: get_json(url)["total_points"] == points  # type: ignore[index]


def ds_stats_check(base: str, layers: int, steps: int) -> Callable[[], bool]:
    url = f"{base}/api/runs/stats/stats?kind=grad&field=norm&max_steps={steps}"

    def check() -> bool:
        m = get_json(url)
        return len(m["layers"]) == layers and len(m["steps"]) == steps  # type: ignore[index]

    return check


def tb_series(base: str, run: str, tag: str) -> list:
    return get_json(f"{base}/data/plugin/scalars/scalars?run={q(run)}&tag={q(tag)}")  # type: ignore[return-value]


def tb_scalars_check(base: str, points: int) -> Callable[[], bool]:
    def check() -> bool:
        data = tb_series(base, "scalars", "train/loss")
        return len(data) == min(points, 1000) and data[-1][1] == points - 1

    return check


def tb_stats_check(base: str, layers: int, steps: int, pool: ThreadPoolExecutor
                   ) -> Callable[[], bool]:
    def check() -> bool:
        tags = get_json(f"{base}/data/plugin/scalars/tags").get("stats", {})  # type: ignore[union-attr]
        if len(tags) < layers:
            return False
        series = list(pool.map(lambda t: tb_series(base, "stats", t), sorted(tags)))
        return all(len(s) == min(steps, 1000) and s[-1][1] == steps - 1 for s in series)

    return check


def time_data(server: Server, check: Callable[[], bool]) -> tuple[float, float]:
    """(first: until complete, warm: median of 5 complete fetches)."""
    first = wait_until(check, "complete data")
    warm = []
    for _ in range(5):
        t0 = time.perf_counter()
        assert check()
        warm.append(time.perf_counter() - t0)
    return first, statistics.median(warm)


# -- browser: time until the first chart is drawn --------------------------------------------
#: JS: a response whose URL contains ``fragment`` has been fully received.
LOADED = ("performance.getEntriesByType('resource')"
          ".some(e => e.name.includes(fragment) && e.responseEnd > 0)")


#: deepscope draws with ECharts on a canvas: drawn = data received and the canvas has painted
#: pixels.
DS_DRAWN = """() => { const c = document.querySelector('canvas'); if (!c || !c.width) return false;
  const g = c.getContext('2d'); if (!g) return false;
  const d = g.getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let i = 3; i < d.length; i += 16) if (d[i] > 0) n++; return n > 200; }"""
#: TensorBoard's time-series card paints its canvas in a worker (pixels not readable): drawn =
#: its series data received and the first card's axes carry tick labels (laid out from it).
TB_DRAWN = """() => { const c = document.querySelector('scalar-card line-chart');
  if (!c) return false;
  return [...c.querySelectorAll('text')].some(t => t.textContent.trim().length > 0); }"""
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def time_chart(url: str, drawn_js: str, fragment: str) -> float | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            t0 = time.perf_counter()
            page.goto(url, timeout=TIMEOUT * 1000)
            page.wait_for_function(f"(fragment) => {LOADED}", arg=fragment,
                                   timeout=TIMEOUT * 1000, polling=20)
            page.wait_for_function(drawn_js, timeout=TIMEOUT * 1000, polling=20)
            page.evaluate(TWO_FRAMES)
            return time.perf_counter() - t0
        finally:
            browser.close()


# -- the run ---------------------------------------------------------------------------------
def measure(work: Path, dataset: str, args: argparse.Namespace, browser: bool) -> list[tuple]:
    ds_root, tb_root = work / "ds" / dataset, work / "tb" / dataset
    if dataset == "scalars":
        ds_check, tb_check = (lambda b: ds_scalars_check(b, args.points),
                              lambda b, _: tb_scalars_check(b, args.points))
        ds_page, ds_data = "/#/run/scalars/scalars", "/scalars/series"
    else:
        ds_check, tb_check = (lambda b: ds_stats_check(b, args.layers, args.steps),
                              lambda b, pool: tb_stats_check(b, args.layers, args.steps, pool))
        ds_page, ds_data = "/#/run/stats/health", "/stats?"
    out = {}
    with ThreadPoolExecutor(6) as pool:
        for tool, start, check in (("deepscope", start_deepscope, ds_check),
                                   ("tensorboard", start_tensorboard,
                                    lambda b, p=pool: tb_check(b, p))):
            server = start(ds_root if tool == "deepscope" else tb_root)
            try:
                out[tool] = (server.ready, *time_data(server, check(server.base)))
            finally:
                server.stop()
            if browser:
                server = start(ds_root if tool == "deepscope" else tb_root)
                try:
                    if tool == "deepscope":
                        chart = time_chart(server.base + ds_page, DS_DRAWN, ds_data)
                    else:
                        chart = time_chart(server.base + "/", TB_DRAWN, "/timeseries/timeSeries")
                    out[tool] = (*out[tool], chart)
                finally:
                    server.stop()
    names = ["ready (s)", "data, first (s)", "data, warm (s)", "chart drawn (s)"]
    rows = [(dataset, name, out["deepscope"][i], out["tensorboard"][i])
            for i, name in enumerate(names) if i < len(out["deepscope"])]
    total = [out[t][0] + out[t][1] for t in ("deepscope", "tensorboard")]
    return [*rows, (dataset, "start + data (s)", *total)]


# -- big model: binary vs JSON /stats, heatmap draw time -------------------------------------
EXPAND_JS = """async () => {
  const host = document.querySelector('[data-testid=health-heatmap]');
  const before = host.dataset.rows;
  const t0 = performance.now();
  document.querySelector('[data-testid=health-expand-all]').click();
  while (host.dataset.rows === before) await new Promise(r => setTimeout(r, 1));
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  return [performance.now() - t0, Number(host.dataset.rows)];
}"""


def time_request(url: str, repeat: int = 5,
                 check: Callable[[bytes], None] | None = None) -> tuple[float, float, int]:
    """(cold, warm median, bytes) of GET url on a fresh server; ``check`` judges the answer."""
    t0 = time.perf_counter()
    body = get(url)
    cold = time.perf_counter() - t0
    if check is not None:
        check(body)
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        get(url)
        warm.append(time.perf_counter() - t0)
    return cold, statistics.median(warm), len(body)


def time_health_page(base: str, run: str) -> tuple[float, float, int] | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            t0 = time.perf_counter()
            page.goto(f"{base}/#/run/{run}/health", timeout=TIMEOUT * 1000)
            page.wait_for_function(DS_DRAWN, timeout=TIMEOUT * 1000, polling=20)
            page.evaluate(TWO_FRAMES)
            first = time.perf_counter() - t0
            expand_ms, rows = page.evaluate(EXPAND_JS)
            return first, expand_ms / 1000, rows
        finally:
            browser.close()


def write_wide_matrix(root: Path, layers: int = 500, steps: int = 2000) -> None:
    """500 layers x 2,000 steps of grad statistics (the size of issue 12's measurement)."""
    w = RunWriter(root / "wide", meta={"name": "wide", "config": {}})
    names = [f"layer_{i:03d}" for i in range(layers)]
    w.set_layers([LayerInfo(n, "Linear", "other", i, 100, 100) for i, n in enumerate(names)])
    norms = grad_norms(layers, steps)
    col = STAT_FIELDS.index("norm")
    for j in range(steps):
        base = np.full((layers, len(STAT_FIELDS)), 0.5)
        base[:, col] = norms[:, j]
        w.log_stats(j, [(n, "grad", base[i]) for i, n in enumerate(names)])
    w.close()
    # close() waits at most 120 s for the writer thread; on a busy machine 1M queued rows take
    # longer, and a server started before they land answers with an empty matrix.
    w.wait_closed(timeout=TIMEOUT)


def _layers_check(run: str, layers: int | None, fmt: str) -> Callable[[bytes], None]:
    """A check that the answer holds every layer (``None``: some): an empty answer's time is no
    measurement."""
    def check(body: bytes) -> None:
        if fmt != "json":
            return
        got = len(json.loads(body)["layers"])
        if got != layers if layers is not None else got == 0:
            raise SystemExit(f"/stats of {run} answered {got} layers, {layers or 'some'} written: "
                             f"{body[:200]!r}")
    return check


def measure_big(work: Path, args: argparse.Namespace, browser: bool) -> None:
    root = work / "big"
    root.mkdir(parents=True)
    t0 = time.perf_counter()
    big_model.write_gpt2_medium_run(root, steps=args.big_steps)
    write_wide_matrix(root)
    print(f"\nbig: GPT-2 medium ({args.big_steps} sampled steps) and 500 x 2,000 written in "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"{'run':<12} {'answer':<7} {'bytes':>10} {'cold (s)':>9} {'warm (s)':>9}")
    for run, layers in (("gpt2-medium", None), ("wide", 500)):
        rows = {}
        for fmt in ("json", "binary"):
            server = start_deepscope(root)
            try:
                url = (f"{server.base}/api/runs/{run}/stats?kind=grad&field=norm&max_steps=500"
                       f"&format={fmt}")
                rows[fmt] = time_request(url, check=_layers_check(run, layers, fmt))
            finally:
                server.stop()
        for fmt, (cold, warm, size) in rows.items():
            print(f"{run:<12} {fmt:<7} {size:>10,} {cold:>9.3f} {warm:>9.3f}")
        (jc, jw, js), (bc, bw, bs) = rows["json"], rows["binary"]
        print(f"{run:<12} {'ratio':<7} {js / bs:>9.1f}x {jc / bc:>8.1f}x {jw / bw:>8.1f}x"
              "  (JSON / binary)")
    if browser:
        server = start_deepscope(root)
        try:
            got = time_health_page(server.base, "gpt2-medium")
        finally:
            server.stop()
        if got:
            first, expand, rows = got
            print(f"gpt2-medium Layer health: page load until the heatmap is painted "
                  f"{first:.2f} s; Expand all ({rows} rows) redrawn in {expand * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--big-steps", type=int, default=500)
    parser.add_argument("--only", default="scalars,stats,big",
                        help="comma-separated data sets: scalars, stats, big")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    only = set(args.only.split(","))
    browser = not args.no_browser and os.path.exists(CHROMIUM)
    work = Path(tempfile.mkdtemp(prefix="deepscope-bench-ui-"))
    try:
        rows = []
        if only & {"scalars", "stats"}:
            tb_events.self_check(work / "check")
            t0 = time.perf_counter()
            for dataset in ("scalars", "stats"):
                (work / "ds" / dataset).mkdir(parents=True)
            write_deepscope_split(work / "ds", args)
            write_tensorboard_split(work / "tb", args)
            print(f"data written in {time.perf_counter() - t0:.1f} s: {args.points:,} scalar "
                  f"points; {args.layers} layers x {args.steps} steps (TensorBoard: grad norm per "
                  "layer via add_scalar records)")
            rows = [r for d in ("scalars", "stats") if d in only
                    for r in measure(work, d, args, browser)]
            print_rows(rows)
        if "big" in only:
            measure_big(work, args, browser)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not browser:
        print("chart drawn: skipped (no Chromium at /usr/bin/chromium or --no-browser)")


def print_rows(rows: list[tuple]) -> None:
    print(f"{'data set':<9} {'measure':<17} {'deepscope':>10} {'TensorBoard':>12} {'TB/ds':>7}")
    for dataset, name, ds, tb in rows:
        if ds is None or tb is None:
            continue
        print(f"{dataset:<9} {name:<17} {ds:>10.3f} {tb:>12.3f} {tb / ds:>6.1f}x")


def write_deepscope_split(root: Path, args: argparse.Namespace) -> None:
    tmp = root / "_all"
    write_deepscope(tmp, args.points, args.layers, args.steps)
    for dataset in ("scalars", "stats"):
        (tmp / dataset).rename(root / dataset / dataset)
    tmp.rmdir()


def write_tensorboard_split(root: Path, args: argparse.Namespace) -> None:
    tmp = root / "_all"
    write_tensorboard(tmp, args.points, args.layers, args.steps)
    for dataset in ("scalars", "stats"):
        (root / dataset).mkdir(parents=True)
        (tmp / dataset).rename(root / dataset / dataset)
    tmp.rmdir()


if __name__ == "__main__":
    main()
