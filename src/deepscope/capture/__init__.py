"""Hooks and on-device statistics; knows nothing of the store's readers, diagnosis or the server."""

from deepscope.capture.schedule import PRESETS, Every
from deepscope.capture.watcher import Watcher

__all__ = ["PRESETS", "Every", "Watcher"]
