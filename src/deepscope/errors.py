"""Typed errors with one-line messages.

Every error a user can cause is a :class:`DeepscopeError`. The CLI prints ``str(err)`` on one
line and exits non-zero; the server maps ``http_status`` to the response code. Nothing user-facing
shows a traceback.
"""

from __future__ import annotations


class DeepscopeError(Exception):
    """Base class: a problem the user can act on, described in one line.

    Example:
        >>> try:
        ...     raise RunNotFoundError("no run at 'x'")
        ... except DeepscopeError as err:
        ...     print(err.http_status, err)
        404 no run at 'x'

    """

    http_status = 500

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class RunNotFoundError(DeepscopeError):
    """The path is not a deepscope run (no database in it)."""

    http_status = 404


class CorruptRunError(DeepscopeError):
    """The run database exists but cannot be read (truncated, overwritten, not SQLite)."""

    http_status = 422


class RunAccessError(DeepscopeError):
    """The run exists but this user may not read it (permissions, a writer still active)."""

    http_status = 403


class RunVersionError(DeepscopeError):
    """The run was written by a newer deepscope with a schema this version cannot read."""

    http_status = 422


class NotRecordedError(DeepscopeError):
    """The requested data was not captured in this run (say how to enable it)."""

    http_status = 404


class InvalidArgumentError(DeepscopeError):
    """A caller passed a value deepscope cannot use (bad tag, bad option, bad path)."""

    http_status = 400


class PathOutsideRootError(DeepscopeError):
    """A run id or path resolves outside the served root directory."""

    http_status = 403


class AuthError(DeepscopeError):
    """Missing or wrong access token."""

    http_status = 401


class GraphError(DeepscopeError):
    """A model or model file whose structure cannot be read at all."""

    http_status = 422


class NonFiniteError(DeepscopeError):
    """Raised in training by ``watch(on_nonfinite="raise")`` when NaN/Inf first appears."""

    http_status = 422


class OptionalDependencyError(DeepscopeError):
    """A feature needs a package that is not installed; the message names the install command."""

    http_status = 501
