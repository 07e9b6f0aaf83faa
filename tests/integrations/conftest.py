"""The adapter tests share frameworks.py; Keras runs on its torch backend (set before import)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"
sys.path.insert(0, str(Path(__file__).parent))
