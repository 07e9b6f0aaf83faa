"""Fixtures for the browser tests: built SPA, real runs, a live server, Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))  # big_model: GPT-2 medium
from big_model import write_gpt2_medium_run  # noqa: E402
from browser_support import ARTIFACTS, Console, Server  # noqa: E402
from runs import (  # noqa: E402
    LiveRun,
    write_band_run,
    write_big_scalar_run,
    write_demo_runs,
    write_xss_run,
)

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
STATIC = REPO / "src" / "deepscope" / "server" / "static"
CHROMIUM = os.environ.get("DEEPSCOPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _newest(paths: list[Path]) -> float:
    return max((p.stat().st_mtime for base in paths for p in [base, *base.rglob("*")]
                if p.exists() and p.is_file()), default=0.0)


@pytest.fixture(scope="session")
def spa() -> Path:
    """The built SPA; rebuilt when a web source is newer than the bundle."""
    index = STATIC / "index.html"
    sources = [WEB / "src", WEB / "index.html", WEB / "vite.config.ts", WEB / "package.json"]
    if not index.is_file() or _newest(sources) > index.stat().st_mtime:
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm not installed: cannot build the dashboard")
        if not (WEB / "node_modules").is_dir():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=600)
        subprocess.run([npm, "run", "build"], cwd=WEB, check=True, timeout=600)
    return STATIC


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-runs")
    write_demo_runs(root)
    write_xss_run(root)
    return root


@pytest.fixture(scope="session")
def server(runs_root: Path, spa: Path) -> Iterator[Server]:
    with Server(runs_root, spa) as s:
        yield s


@pytest.fixture(scope="session")
def big_server(tmp_path_factory: pytest.TempPathFactory, spa: Path) -> Iterator[Server]:
    """GPT-2 medium (246 watched layers) over 200 sampled steps, with its graph."""
    root = tmp_path_factory.mktemp("big-model")
    write_gpt2_medium_run(root, steps=200)
    with Server(root, spa) as s:
        yield s


@pytest.fixture(scope="session")
def band_server(tmp_path_factory: pytest.TempPathFactory, spa: Path) -> Iterator[Server]:
    """A run with exactly known statistics and a gradient norm of exactly 0."""
    root = tmp_path_factory.mktemp("bands")
    write_band_run(root)
    with Server(root, spa) as s:
        yield s


@pytest.fixture()
def live_server(tmp_path: Path, spa: Path) -> Iterator[tuple[Server, LiveRun]]:
    """A server over one run that is still being written."""
    run = LiveRun(tmp_path)
    run.log(10)
    try:
        with Server(tmp_path, spa) as s:
            yield s, run
    finally:
        run.close()


@pytest.fixture()
def token_server(runs_root: Path, spa: Path) -> Iterator[Server]:
    """The demo runs behind a token, as when binding a non-loopback host."""
    with Server(runs_root, spa, token="s3cret-token") as s:
        yield s


@pytest.fixture()
def scale_server(tmp_path: Path, spa: Path) -> Iterator[Server]:
    """A server over one run with a 1,000,000-point scalar series."""
    write_big_scalar_run(tmp_path)
    with Server(tmp_path, spa) as s:
        yield s


@pytest.fixture()
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page; fails the test on console errors or dialogs, screenshots at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.console = Console(pg)
    yield pg
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    try:
        pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert pg.console.dialogs == [], f"a dialog opened: {pg.console.dialogs}"
    assert pg.console.errors == [], f"console errors: {pg.console.errors}"
