"""The data ``deepscope explain`` runs on: a bundled data set or the user's own files.

``--dataset`` takes a bundled name (``digits``, ``digits-flat``, ``breast_cancer``, ``wine``,
``moons``) or a path:

* ``file.npz``: arrays ``X`` (or ``x``, ``inputs``, ``features``, ``data``) and optionally ``y``
  (or ``labels``, ``targets``), ``classes``, ``feature_names``;
* ``file.npy``: the inputs only (no labels);
* ``file.csv``: a header row; the column named ``label``, ``target``, ``y`` or ``class`` holds the
  labels (numbers or names), every other column is a numeric feature;
* a folder of images in one sub-folder per class (``cats/1.png``, ``dogs/2.jpg``), all the same
  size: inputs are ``N x C x H x W`` in ``[0, 1]``, one channel when every image is greyscale.

Inputs are standardised (per feature for tables, over all pixels for images) unless ``--raw``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepscope.errors import InvalidArgumentError

DATASETS = ("digits", "digits-flat", "breast_cancer", "wine", "moons")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_X_KEYS = ("X", "x", "inputs", "features", "data")
_Y_KEYS = ("y", "labels", "targets", "target")
_LABEL_COLUMNS = ("label", "target", "y", "class")


def _bundled(name: str) -> dict[str, Any]:
    from sklearn import datasets

    if name == "moons":
        X, y = datasets.make_moons(500, noise=0.2, random_state=0)
        return {"X": X, "y": y, "feature_names": ["x0", "x1"], "classes": ["0", "1"]}
    loader = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}
    data = loader.get(name, datasets.load_digits)()
    names = [str(n) for n in getattr(data, "feature_names", [])] or None
    out = {"X": data.data, "y": data.target, "feature_names": names,
           "classes": [str(c) for c in data.target_names]}
    if name == "digits":
        out.update(X=data.data.reshape(-1, 1, 8, 8), images=True, feature_names=None)
    if name == "digits-flat":
        out["global_scale"] = True  # pixels: one scale for all, as for the images
    return out


def _npz(path: Path) -> dict[str, Any]:
    try:
        arrays = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise InvalidArgumentError(f"cannot read {str(path)!r}: {err}") from None
    x_key = next((k for k in _X_KEYS if k in arrays), None)
    if x_key is None:
        raise InvalidArgumentError(f"{str(path)!r} has no inputs: name the array one of "
                                   f"{', '.join(_X_KEYS)} (it has {', '.join(arrays.files)})")
    y_key = next((k for k in _Y_KEYS if k in arrays), None)
    out: dict[str, Any] = {"X": arrays[x_key], "y": None if y_key is None else arrays[y_key]}
    for key in ("classes", "feature_names"):
        if key in arrays:
            out[key] = [str(v) for v in arrays[key].tolist()]
    return out


def _npy(path: Path) -> dict[str, Any]:
    try:
        return {"X": np.load(path, allow_pickle=False), "y": None}
    except (OSError, ValueError) as err:
        raise InvalidArgumentError(f"cannot read {str(path)!r}: {err}") from None


def _csv(path: Path) -> dict[str, Any]:
    import csv

    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InvalidArgumentError(f"cannot read {str(path)!r}: {err}") from None
    if len(rows) < 2:
        raise InvalidArgumentError(f"{str(path)!r} needs a header row and at least one data row")
    header, body = [h.strip() for h in rows[0]], rows[1:]
    label = next((i for i, h in enumerate(header) if h.lower() in _LABEL_COLUMNS), None)
    features = [i for i in range(len(header)) if i != label]
    try:
        X = np.array([[float(r[i]) for i in features] for r in body], dtype=np.float64)
    except (ValueError, IndexError) as err:
        raise InvalidArgumentError(f"{str(path)!r}: every feature must be a number ({err})"
                                   ) from None
    out: dict[str, Any] = {"X": X, "y": None, "feature_names": [header[i] for i in features]}
    if label is not None:
        raw = [r[label].strip() for r in body]
        try:
            out["y"] = np.array([float(v) for v in raw]).astype(np.int64)
        except ValueError:
            names = sorted(set(raw))
            out.update(y=np.array([names.index(v) for v in raw]), classes=names)
    return out


def _images(folder: Path) -> dict[str, Any]:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [(c, p) for c in classes for p in sorted((folder / c).iterdir())
             if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise InvalidArgumentError(f"{str(folder)!r} holds no images in class sub-folders "
                                   f"(e.g. {folder}/cats/1.png)")
    try:
        images = [Image.open(p) for _, p in files]
    except (OSError, UnidentifiedImageError) as err:
        raise InvalidArgumentError(f"cannot read an image in {str(folder)!r}: {err}") from None
    sizes = {im.size for im in images}
    if len(sizes) > 1:
        a, b = sorted(sizes)[:2]
        raise InvalidArgumentError(f"images in {str(folder)!r} differ in size ({a[0]}x{a[1]} "
                                   f"and {b[0]}x{b[1]}): resize them to one size first")
    grey = all(im.mode in ("L", "1", "I;16") for im in images)
    arrays = [np.asarray(im.convert("L" if grey else "RGB"), dtype=np.float32) / 255.0
              for im in images]
    X = np.stack(arrays)[:, None] if grey else np.stack(arrays).transpose(0, 3, 1, 2)
    y = np.array([classes.index(c) for c, _ in files])
    return {"X": X, "y": y, "classes": classes, "images": True}


def _from_path(spec: str) -> dict[str, Any]:
    path = Path(spec).expanduser()
    if path.is_dir():
        return _images(path)
    if not path.is_file():
        raise InvalidArgumentError(f"unknown dataset {spec!r}: give one of {', '.join(DATASETS)}, "
                                   "or a .npz, .npy or .csv file, or a folder of images")
    reader = {".npz": _npz, ".npy": _npy, ".csv": _csv}.get(path.suffix.lower())
    if reader is None:
        raise InvalidArgumentError(f"cannot read {spec!r}: use a .npz, .npy or .csv file, or a "
                                   "folder of images")
    return reader(path)


def _finish(data: dict[str, Any], spec: str, standardise: bool) -> dict[str, Any]:
    X = np.asarray(data["X"])
    if X.dtype.kind not in "fiub" or X.ndim < 2 or len(X) == 0:
        raise InvalidArgumentError(f"inputs of {spec!r} must be a numeric array of shape "
                                   f"(samples, features...), got {X.dtype} {X.shape}")
    X = X.astype(np.float32)
    images = bool(data.get("images")) or X.ndim == 4
    y = data.get("y")
    if y is not None:
        y = np.asarray(y).astype(np.int64)
        if len(y) != len(X):
            raise InvalidArgumentError(f"{spec!r} has {len(X)} inputs but {len(y)} labels")
    if standardise:
        axis = None if images or data.get("global_scale") else 0
        X = (X - X.mean(axis=axis)) / np.maximum(X.std(axis=axis), 1e-8)
    classes = data.get("classes")
    if classes is None and y is not None:
        classes = [str(c) for c in range(int(y.max()) + 1)]
    return {"X": X, "y": y, "classes": classes,
            "feature_names": None if images else data.get("feature_names"), "images": images}


def load_dataset(spec: str, standardise: bool = True) -> dict[str, Any]:
    """``X`` (float32), ``y`` (int64 or None), ``classes``, ``feature_names``, ``images``.

    Example:
        >>> load_dataset("digits")["X"].shape
        (1797, 1, 8, 8)

    """
    data = _bundled(spec) if spec in DATASETS else _from_path(spec)
    return _finish(data, spec, standardise)


def require_labels(data: dict[str, Any], spec: str, command: str) -> np.ndarray:
    """The labels, or a one-line error saying how to give them."""
    if data["y"] is None:
        raise InvalidArgumentError(
            f"explain {command} needs labels and {spec!r} has none: use a .npz with X and y, "
            "a .csv with a label column, or a folder of images per class"
        )
    return data["y"]
