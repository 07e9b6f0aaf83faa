"""The public surface is small and pinned; import layering is checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import deepscope as ds

ROOT = Path(__file__).resolve().parents[1]


def test_public_api_is_pinned() -> None:
    assert sorted(ds.__all__) == [
        "DeepscopeError",
        "Run",
        "RunReader",
        "__version__",
        "diagnose",
        "explain",
        "init",
        "open_run",
        "report",
        "summary",
    ]
    for name in ds.__all__:
        assert getattr(ds, name) is not None


def test_import_layering_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
