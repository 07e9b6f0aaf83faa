"""Sampled CPU steps finished beside training, on one background thread.

Reducing and binning a sampled step's host copies is most of what a small model's sampled step
costs, and those copies no longer depend on the model: the training thread hands them over and
goes on. A small model's training (batch-64 matmuls) keeps one core busy, so on two cores the
finishing runs on the idle one. Errors raised there reach the training thread at its next
sampled step or flush. ``run.flush()``, ``unwatch`` and ``finish`` wait for every handed step.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Finisher:
    """Runs ``finish(*args)`` calls in order on one thread, started at the first call."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Future[Any]] = deque()

    def submit(self, finish: Callable[..., None], *args: Any) -> None:
        self.poll()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="deepscope-stats")
        self._pending.append(self._pool.submit(finish, *args))

    def poll(self) -> None:
        """Collect finished calls (raising the first error one of them raised)."""
        while self._pending and self._pending[0].done():
            self._pending.popleft().result()

    def wait(self) -> None:
        """Block until every handed call has run (raising the first error)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
