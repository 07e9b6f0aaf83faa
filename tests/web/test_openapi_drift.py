"""The SPA's committed API schema must match the server's (the TypeScript types come from it).

Regenerate after changing the server's wire schemas:
``python tests/web/test_openapi_drift.py && (cd web && npm run gen-api)``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
COMMITTED = WEB / "src" / "api" / "openapi.json"
REGENERATE = "python tests/web/test_openapi_drift.py && (cd web && npm run gen-api)"


def server_schema(root: Path) -> dict:
    from deepscope.server.app import create_app

    return create_app(root).openapi()


def test_committed_openapi_matches_server(tmp_path: Path) -> None:
    pytest.importorskip("deepscope.server.app", reason="server package not available yet")
    live = server_schema(tmp_path)
    committed = json.loads(COMMITTED.read_text())
    if live != committed:
        live_s = live.get("components", {}).get("schemas", {})
        old_s = committed.get("components", {}).get("schemas", {})
        changed = sorted(k for k in live_s.keys() | old_s.keys() if live_s.get(k) != old_s.get(k))
        paths = sorted(set(live.get("paths", {})) ^ set(committed.get("paths", {})))
        pytest.fail(
            f"web/src/api/openapi.json differs from deepscope.server (schemas {changed}, "
            f"paths {paths}); regenerate: {REGENERATE}"
        )


def test_generated_types_match_committed_schema() -> None:
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules" / "openapi-typescript").is_dir():
        pytest.skip("node or web/node_modules missing: run `make web` to check schema.d.ts")
    proc = subprocess.run(
        [node, "scripts/gen-api.mjs", "--check"],
        cwd=WEB,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr or proc.stdout


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    with tempfile.TemporaryDirectory() as tmp:
        COMMITTED.write_text(json.dumps(server_schema(Path(tmp)), indent=2, sort_keys=True) + "\n")
    print(f"wrote {COMMITTED.relative_to(REPO)}")
