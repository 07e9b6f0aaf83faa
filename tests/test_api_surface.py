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
        "show",
        "summary",
    ]
    for name in ds.__all__:
        assert getattr(ds, name) is not None


def test_functions_survive_subpackage_imports() -> None:
    import importlib

    for mod in ("deepscope.diagnose.engine", "deepscope.report.build", "deepscope.report.payload",
                "deepscope.graph.summary", "deepscope.explain"):
        importlib.import_module(mod)
    for name in ("diagnose", "report", "summary", "open_run"):
        assert callable(getattr(ds, name)) and not hasattr(getattr(ds, name), "__path__"), name


def test_cli_starts_without_torch() -> None:
    code = "import sys, deepscope.cli, deepscope.server.app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_import_layering_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stdout + out.stderr
