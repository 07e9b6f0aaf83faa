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


def find_runs(root: str | Path, max_depth: int = 4) -> list[tuple[str, Path]]:
    """``(run_id, path)`` for every run under ``root`` (the root itself included), sorted by id.

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
            rel = here.relative_to(root).as_posix()
            found.append((rel.replace("/", SEP) if rel != "." else here.resolve().name, here))
            dirnames[:] = []
        elif depth >= max_depth:
            dirnames[:] = []
    return sorted(found)


def resolve_run_id(root: str | Path, run_id: str) -> Path:
    """Map an id from :func:`find_runs` back to its directory; refuse anything outside root."""
    if (
        not run_id
        or not _ID_RE.match(run_id)
        or any(p in ("", ".", "..") for p in run_id.split(SEP))
    ):
        raise InvalidArgumentError(f"invalid run id {run_id!r}")
    root_real = Path(root).resolve()
    path = (root_real / run_id.replace(SEP, "/")).resolve()
    if path != root_real and root_real not in path.parents:
        raise PathOutsideRootError(f"run id {run_id!r} points outside the served directory")
    if not (path / DB_FILENAME).is_file():
        raise RunNotFoundError(f"no run {run_id!r} under {root}")
    return path
