"""Dashboard server under load: 50 concurrent clients for 30 s on loopback.

Writes demo-like runs (a few layers, thousands of scalar points) and one 500-layer run, starts
``deepscope ui`` as its own process, then:

1. eight concurrent cold ``/findings`` requests on the 500-layer run (one diagnosis serves all);
2. ``--clients`` asyncio clients, each on its own kept-alive connection, sending a mix of the
   dashboard's requests (run list, run, scalars, statistics matrix and series, histograms,
   findings, layers) for ``--seconds`` seconds.

Prints p50/p99 latency per route and overall, requests per second, errors (any non-200 or
transport error) and the server's resident memory (peak and at the end).

    python bench/load.py [--clients 50] [--seconds 30] [--layers 500] [--steps 200]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from deepscope.store.records import LayerInfo
from deepscope.store.schema import STAT_FIELDS
from deepscope.store.writer import RunWriter


def write_run(path: Path, layers: int, steps: int, points: int, every: int = 10) -> None:
    rng = np.random.default_rng(len(path.name))
    w = RunWriter(path, {"name": path.name, "config": {"layers": layers}})
    names = [f"block{i // 4}.layer{i % 4}" for i in range(layers)]
    w.set_layers([LayerInfo(n, "Linear", "relu" if i % 2 else "other", i, 1000, 1000)
                  for i, n in enumerate(names)])
    steps_arr = np.arange(points)
    for tag in ("train/loss", "train/acc", "val/loss", "val/acc"):
        w.log_scalar_arrays(tag, steps_arr, rng.random(points), 1.7e9 + steps_arr * 0.1)
    for s in range(0, steps * every, every):
        vec = rng.random((layers, len(STAT_FIELDS)))
        w.log_stats(s, [(n, k, vec[i]) for i, n in enumerate(names)
                        for k in ("weight", "grad", "activation")])
        w.log_histograms(s, [(n, "weight", -1.0, 1.0, rng.integers(0, 100, 64))
                             for n in names[:50]])
        if s % (every * 20) == 0:
            w.flush()
    w.close()


def start_server(root: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "deepscope.cli", "ui", str(root), "--port",
                             "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "http://" in line:
            url = line.split("http://", 1)[1].split()[0].rstrip("/")
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # drain
            return proc, "http://" + url
    proc.kill()
    raise RuntimeError("the server did not start")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def routes(run_ids: list[str], big: str) -> list[tuple[str, str, dict]]:
    out: list[tuple[str, str, dict]] = [("runs", "/api/runs", {})]
    for rid in run_ids:
        out += [
            ("run", f"/api/runs/{rid}", {}),
            ("scalars", f"/api/runs/{rid}/scalars/series", {"tag": "train/loss"}),
            ("stats", f"/api/runs/{rid}/stats", {"kind": "grad", "field": "norm"}),
            ("stat_series", f"/api/runs/{rid}/stats/series",
             {"layer": "block0.layer1", "kind": "activation"}),
            ("histograms", f"/api/runs/{rid}/histograms",
             {"layer": "block0.layer0", "kind": "weight"}),
            ("findings", f"/api/runs/{rid}/findings", {}),
            ("layers", f"/api/runs/{rid}/layers", {}),
        ]
    return out


async def client(base: str, mix: list, until: float, results: list, seed: int) -> None:
    import httpx

    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        while time.monotonic() < until:
            name, path, params = rng.choice(mix)
            t0 = time.perf_counter()
            try:
                r = await http.get(path, params=params)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            results.append((name, time.perf_counter() - t0, ok))


async def cold_findings(base: str, rid: str, n: int) -> list[float]:
    import httpx

    async def one() -> float:
        async with httpx.AsyncClient(base_url=base, timeout=600) as http:
            t0 = time.perf_counter()
            r = await http.get(f"/api/runs/{rid}/findings")
            assert r.status_code == 200, r.text
            return time.perf_counter() - t0

    return list(await asyncio.gather(*(one() for _ in range(n))))


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.array(xs) * 1e3, q)) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--layers", type=int, default=500)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        for name in ("demo-healthy", "demo-broken"):
            write_run(root / name, layers=8, steps=100, points=5_000)
        write_run(root / "big", layers=args.layers, steps=args.steps, points=20_000)
        print(f"runs written in {time.perf_counter() - t0:.1f} s "
              f"(big: {args.layers} layers x {args.steps} sampled steps)")
        proc, base = start_server(root)
        peak = [rss_mb(proc.pid)]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                peak.append(rss_mb(proc.pid))

        threading.Thread(target=sample, daemon=True).start()
        try:
            print(f"server RSS at start: {peak[0]:.0f} MB")
            cold = asyncio.run(cold_findings(base, "big", 8))
            print(f"8 concurrent cold /findings on the big run: max {max(cold):.2f} s, "
                  f"mean {statistics.mean(cold):.2f} s; server RSS peak so far "
                  f"{max(peak):.0f} MB")
            mix = routes(["demo-healthy", "demo-broken", "big"], "big")
            results: list = []
            until = time.monotonic() + args.seconds

            async def run_all() -> None:
                await asyncio.gather(*(client(base, mix, until, results, i)
                                       for i in range(args.clients)))

            t0 = time.perf_counter()
            asyncio.run(run_all())
            elapsed = time.perf_counter() - t0
        finally:
            stop.set()
            end_rss = rss_mb(proc.pid)
            proc.terminate()
            proc.wait(timeout=30)
    lat = [d for _, d, _ in results]
    errors = sum(not ok for *_, ok in results)
    print(f"{args.clients} clients for {args.seconds:.0f} s: {len(results):,} requests, "
          f"{len(results) / elapsed:.0f} req/s, {errors} errors")
    print(f"{'route':12s} {'n':>7s} {'p50 ms':>9s} {'p99 ms':>9s}")
    for name in sorted({n for n, *_ in results}):
        xs = [d for n, d, _ in results if n == name]
        print(f"{name:12s} {len(xs):7d} {_pct(xs, 50):9.1f} {_pct(xs, 99):9.1f}")
    print(f"{'all':12s} {len(lat):7d} {_pct(lat, 50):9.1f} {_pct(lat, 99):9.1f}")
    print(f"server RSS: peak {max(peak):.0f} MB, at the end {end_rss:.0f} MB")


if __name__ == "__main__":
    main()
