"""Find runs under a root directory; run ids are safe single URL segments."""

from __future__ import annotations

import os
import re
from pathlib import Path

from deepscope.errors import InvalidArgumentError, PathOutsideRootError, RunNotFoundError
from deepscope.store.schema import DB_FILENAME

_ID_RE = re.compile(r"^[A-Za-z0-9._~-]+$")
#: Separator replacing "/" in ids of nested runs ("team/exp-1" -> "team~exp-1").
SEP = "~"
#: Longest id segment a file system takes as a directory name.
MAX_SEGMENT = 255


def find_runs(
    root: str | Path, max_depth: int = 4, *, confined: bool = False
) -> list[tuple[str, Path]]:
    """``(run_id, path)`` for every run under ``root`` (the root itself included), sorted by id.

    With ``confined`` (the server), runs whose database is a link to a file outside ``root``
    are left out.

    Example:
        >>> find_runs("deepscope-runs")  # doctest: +SKIP
        [('cnn-20261122-101500-ab12', PosixPath('deepscope-runs/cnn-20261122-101500-ab12'))]

    """
    root = Path(root)
    if not root.is_dir():
        raise RunNotFoundError(f"no such directory: {root}")
    found: list[tuple[str, Path]] = []
    base_depth = len(root.resolve().parts)
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        depth = len(here.resolve().parts) - base_depth
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "node_modules")
        if DB_FILENAME in filenames:
            if confined and not _inside(root.resolve(), here / DB_FILENAME):
                dirnames[:] = []
                continue
            rel = here.relative_to(root).as_posix()
            found.append((rel.replace("/", SEP) if rel != "." else here.resolve().name, here))
            dirnames[:] = []
        elif depth >= max_depth:
            dirnames[:] = []
    return sorted(found)


def _inside(root_real: Path, path: Path) -> bool:
    try:
        real = path.resolve()
    except (OSError, RuntimeError):
        return False
    return real == root_real or root_real in real.parents


def resolve_run_id(root: str | Path, run_id: str) -> Path:
    """Map an id from :func:`find_runs` back to its directory; refuse anything outside root.

    Error messages never name the root directory (a server answers with them).
    """
    parts = run_id.split(SEP) if run_id else []
    if (
        not run_id
        or not _ID_RE.match(run_id)
        or any(p in ("", ".", "..") for p in parts)
        or any(len(p) > MAX_SEGMENT for p in parts)
    ):
        raise InvalidArgumentError(f"invalid run id {run_id[:80]!r}")
    root_real = Path(root).resolve()
    if (root_real / DB_FILENAME).is_file() and run_id == root_real.name:
        return root_real  # the root is itself a run (``deepscope ui RUN_DIR``)
    try:
        path = (root_real / run_id.replace(SEP, "/")).resolve()
        is_run = (path / DB_FILENAME).is_file()
    except (OSError, RuntimeError):
        raise RunNotFoundError(f"no run {run_id[:80]!r}") from None
    if not _inside(root_real, path):
        raise PathOutsideRootError(f"run id {run_id!r} points outside the served directory")
    if not is_run:
        raise RunNotFoundError(f"no run {run_id!r}")
    if not _inside(root_real, path / DB_FILENAME):
        raise PathOutsideRootError(f"run {run_id!r} keeps its database outside the served "
                                   "directory")
    return path
