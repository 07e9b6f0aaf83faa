from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(1)


@pytest.fixture()
def runs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "runs"
    d.mkdir()
    return d


CHROMIUM = os.environ.get("DEEPSCOPE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """One Chromium for the whole session (Playwright's sync API allows one driver per thread)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# Small models trained once per test session on bundled data (explain and plots tests share them).
@pytest.fixture(scope="session")
def digits():
    import digits_models

    return digits_models.digits()


@pytest.fixture(scope="session")
def cnn():
    import digits_models

    return digits_models.trained_cnn()


@pytest.fixture(scope="session")
def mlp():
    import digits_models

    return digits_models.trained_mlp()


@pytest.fixture(scope="session")
def cancer():
    import digits_models

    return digits_models.cancer()


@pytest.fixture(scope="session")
def cancer_mlp():
    import digits_models

    return digits_models.trained_cancer_mlp()
