from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))  # the shared synthetic run writer
from server_runs import write_run  # noqa: E402


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("runs") / "mlp-1"
    write_run(path, steps=40)
    return path


@pytest.fixture()
def fake_spa(tmp_path: Path) -> Path:
    """A built SPA in the shape `npm run build` writes: one bundle, one stylesheet, an icon."""
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8" /><title>deepscope</title>'
        '<link rel="icon" href="./favicon.svg">'
        '<script type="module" crossorigin src="./assets/app.js"></script>'
        '<link rel="stylesheet" crossorigin href="./assets/app.css"></head>'
        '<body><div id="app"></div></body></html>')
    (static / "assets" / "app.js").write_text(
        'const p = JSON.parse(document.getElementById("deepscope-payload").textContent);\n'
        'const end = "</script>"; const c = "<!--";\n'
        'document.getElementById("app").textContent = p.runs[0].name + end + c;\n')
    (static / "assets" / "app.css").write_text("body { background: url(./bg.png) }")
    (static / "assets" / "bg.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (static / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return static
