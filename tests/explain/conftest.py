from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import digits_models  # noqa: E402


@pytest.fixture(scope="session")
def digits():
    return digits_models.digits()


@pytest.fixture(scope="session")
def cnn():
    return digits_models.trained_cnn()


@pytest.fixture(scope="session")
def mlp():
    return digits_models.trained_mlp()


@pytest.fixture(scope="session")
def cancer():
    return digits_models.cancer()


@pytest.fixture(scope="session")
def cancer_mlp():
    return digits_models.trained_cancer_mlp()
