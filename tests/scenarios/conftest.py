from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scenarios.loops import Outcome


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Outcome]:
    """Train a suite case once per session and seed (several tests read the same run)."""
    cache: dict[tuple[str, int], Outcome] = {}

    def get(fn: Callable[[Path, int], Outcome], seed: int) -> Outcome:
        key = (fn.__module__, fn.__qualname__, seed)  # two suites may reuse a name
        if key not in cache:
            cache[key] = fn(tmp_path_factory.mktemp(f"{fn.__name__}-{seed}"), seed)
        return cache[key]

    return get
