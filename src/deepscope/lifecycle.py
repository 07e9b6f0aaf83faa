"""How the end of a training process reaches its runs: exit status, uncaught exceptions, SIGTERM.

* Interpreter exit (atexit): runs still open are finished; a ``sys.exit(n)`` with ``n != 0``
  marks them ``crashed`` with that exit code (Python gives atexit handlers no exit status, so
  ``sys.exit`` is wrapped to remember it; a bare ``raise SystemExit(n)`` is not seen).
* An uncaught exception marks them ``crashed`` with the exception's one-line text.
* SIGTERM (schedulers, ``docker stop``, ``kill``) writes everything queued, marks them
  ``crashed`` ("terminated by SIGTERM"), then lets the signal do what it did before (the
  default: end the process with the same status as without deepscope; a handler the program
  installed earlier is called).
* Nothing happens in a forked child (DataLoader workers): it does not own the parent's runs.

The hooks are installed by the first run of a process, from the main thread.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

_state: dict[str, Any] = {"installed": False, "pid": None, "exit_code": None}
_callbacks: dict[str, Callable[..., None]] = {}


def exit_status(code: Any) -> int:
    """The status ``sys.exit(code)`` ends the process with (None -> 0, a message -> 1).

    Example:
        >>> exit_status(None), exit_status(3), exit_status("bad input")
        (0, 3, 1)

    """
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    return 1


def _owner() -> bool:
    return _state["pid"] == os.getpid()


def _at_exit() -> None:
    if _owner() and "exit" in _callbacks:
        _callbacks["exit"](_state["exit_code"])


def finish_on_exit(
    on_exit: Callable[[int | None], None],
    on_exception: Callable[[type, BaseException], None],
    on_signal: Callable[[int], None],
) -> None:
    """Register what to do at exit (with the exit code), on an uncaught exception, on SIGTERM."""
    _callbacks.update(exit=on_exit, exception=on_exception, signal=on_signal)


def install_exit_hooks() -> None:
    """Install the hooks once per process (see the module docstring). Idempotent."""
    if _state["installed"] and _owner():
        return
    _state.update(installed=True, pid=os.getpid(), exit_code=None)
    atexit.register(_at_exit)
    _wrap_excepthook()
    _wrap_sys_exit()
    if threading.current_thread() is threading.main_thread():
        _install_sigterm()


def _wrap_excepthook() -> None:
    previous = sys.excepthook

    def excepthook(tp: type, value: BaseException, tb: Any) -> None:
        if _owner() and "exception" in _callbacks and not issubclass(tp, SystemExit):
            try:
                _callbacks["exception"](tp, value)
            except Exception:  # noqa: BLE001 - the original hook must still report the error
                pass
        previous(tp, value, tb)

    sys.excepthook = excepthook


def _wrap_sys_exit() -> None:
    original = sys.exit

    def exit(status: object = None) -> None:  # noqa: A001 - stands in for sys.exit
        """``sys.exit`` that remembers the status for the runs finished at interpreter exit."""
        _state["exit_code"] = exit_status(status)
        original(status)

    exit.__wrapped__ = original  # type: ignore[attr-defined]
    sys.exit = exit


def _install_sigterm() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN or previous is None:
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        if _owner() and "signal" in _callbacks:
            try:
                _callbacks["signal"](signum)
            except Exception:  # noqa: BLE001 - the process must still end
                pass
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_sigterm)
