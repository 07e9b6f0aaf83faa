"""The scripts in examples/ run as a user would run them (from an empty directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import deepscope as ds
from deepscope.store.catalog import find_runs

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
EXPECT = {
    "quickstart_mlp.py": "deepscope ui",
    "nan_hunt.py": "stopped: module 'norm' produced NaN/Inf first at step 0",
    "transformer_structure.py": "GPT2LMHeadModel",
    "hf_trainer.py": "No problems found.",
    "lightning_trainer.py": "No problems found.",
    "keras_fit.py": "No problems found.",
    "gan_two_models.py": "D steps with statistics: [0, 1, 2, 10, 20]",
    "ddp_two_processes.py": "activation count at step 0 (global batch): 4096",
}


@pytest.mark.parametrize("script", sorted(EXPECT))
def test_example_runs(script: str, tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},  # the machine's cores are shared
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert EXPECT[script] in out.stdout
    ((_, path),) = find_runs(tmp_path / "deepscope-runs")
    assert ds.open_run(path).meta().status == "finished"
