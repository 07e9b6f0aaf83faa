from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from deepscope.server import create_app

sys.path.insert(0, str(Path(__file__).parent))  # server_runs: run writers shared with report tests
from server_runs import write_root  # noqa: E402


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_root(tmp_path_factory.mktemp("runs"))


@pytest.fixture()
def client(runs_root: Path, tmp_path: Path) -> TestClient:
    app = create_app(runs_root, static_dir=tmp_path / "no-static")
    return TestClient(app, base_url="http://127.0.0.1")
