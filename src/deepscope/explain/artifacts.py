"""Shared artifact mechanics: PNG encoding, JSON-safe lists, the result base class.

Every explain result is a :class:`ExplainResult`: it has a ``kind``, turns itself into
``(kind, data, blobs)`` for :meth:`RunWriter.add_artifact` and reads itself back from
``reader.artifact(id)``. Images are encoded as PNG with Pillow (a matplotlib dependency), never
pickled. The JSON shape of each kind is documented in ``docs/artifacts.md``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from deepscope.errors import InvalidArgumentError

ARTIFACT_VERSION = 1
PNG = "image/png"

Blobs = dict[str, tuple[str, bytes]]


def clean(values: Any, digits: int | None = 6) -> Any:
    """Nested JSON-able lists from an array: NaN/Inf become ``None``, floats are rounded.

    Example:
        >>> clean(np.array([1.23456789, np.nan]), digits=3)
        [1.235, None]

    """
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.astype(int).tolist()
    arr = arr.astype(float)
    if digits is not None:
        arr = np.round(arr, digits)
    out = arr.tolist()
    return _none_nonfinite(out)


def _none_nonfinite(x: Any) -> Any:
    if isinstance(x, list):
        return [_none_nonfinite(v) for v in x]
    return x if math.isfinite(x) else None


def unclean(values: Any) -> np.ndarray:
    """Inverse of :func:`clean`: ``None`` becomes NaN."""
    return np.asarray(_nan_none(values), dtype=float)


def _nan_none(x: Any) -> Any:
    if isinstance(x, list):
        return [_nan_none(v) for v in x]
    return float("nan") if x is None else x


def encode_png(image: np.ndarray) -> bytes:
    r"""PNG bytes of an ``H x W`` (grey), ``H x W x 3`` (RGB) or ``H x W x 4`` (RGBA) array.

    Floats are taken in ``[0, 1]`` and clipped; ``uint8`` is used as is.

    Example:
        >>> encode_png(np.zeros((2, 2)))[:4]
        b'\\x89PNG'

    """
    from PIL import Image

    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = (np.clip(np.nan_to_num(arr.astype(float)), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    """The array of a PNG written by :func:`encode_png` (``uint8``)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


def to_display(image: np.ndarray) -> np.ndarray:
    """A ``C x H x W`` (or ``H x W``) input scaled to ``[0, 1]`` for display: grey or RGB.

    Example:
        >>> to_display(np.arange(4.0).reshape(1, 2, 2)).max()
        1.0

    """
    arr = np.asarray(image, dtype=float)
    if arr.ndim == 3:
        arr = arr[0] if arr.shape[0] == 1 else np.moveaxis(arr[:3], 0, -1)
    lo, hi = np.nanmin(arr), np.nanmax(arr)
    return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)


def heatmap_rgba(values: np.ndarray, signed: bool) -> np.ndarray:
    """RGBA heat map (``RdBu_r`` when signed, else ``inferno``) with alpha = |value| / max.

    Example:
        >>> heatmap_rgba(np.array([[1.0, -1.0]]), signed=True).shape
        (1, 2, 4)

    """
    from matplotlib import colormaps

    arr = np.nan_to_num(np.asarray(values, dtype=float))
    scale = float(np.max(np.abs(arr))) or 1.0
    if signed:
        rgba = colormaps["RdBu_r"](0.5 + 0.5 * arr / scale)
    else:
        rgba = colormaps["inferno"](np.abs(arr) / scale)
    rgba[..., 3] = np.abs(arr) / scale
    return rgba


def sprite(images: Sequence[np.ndarray]) -> tuple[np.ndarray, int]:
    """All images (``H x W`` or ``H x W x 3`` in ``[0, 1]``) in one row-major square-ish grid.

    Example:
        >>> sheet, cols = sprite([np.zeros((2, 2))] * 5)
        >>> sheet.shape, cols
        ((6, 6), 3)

    """
    n = len(images)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    h, w = images[0].shape[:2]
    extra = images[0].shape[2:]
    sheet = np.zeros((rows * h, cols * w, *extra))
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = img
    return sheet, cols


def class_names(classes: Sequence[Any] | None, n: int) -> list[str]:
    """Class names as strings; ``["0", ..., "n-1"]`` when not given (checks the count)."""
    if classes is None:
        return [str(i) for i in range(n)]
    names = [str(c) for c in classes]
    if len(names) < n:
        raise InvalidArgumentError(f"{len(names)} class names given but the model has {n} outputs")
    return names


class ExplainResult:
    """Base of every explain result: ``kind``, ``to_artifact`` and ``from_artifact``.

    Subclasses implement :meth:`_data` (JSON ``data``) and :meth:`_from_data`; binary parts live
    in ``self.blobs`` so a result read back from a run can be stored again unchanged.

    Example:
        >>> kind, data, blobs = result.to_artifact()  # doctest: +SKIP
        >>> run.log_artifact(result)  # doctest: +SKIP

    """

    kind: ClassVar[str] = ""
    blobs: Blobs

    def to_artifact(self) -> tuple[str, dict[str, Any], Blobs]:
        """``(kind, data, blobs)`` as stored by ``RunWriter.add_artifact``."""
        return self.kind, {"version": ARTIFACT_VERSION, **self._data()}, dict(self.blobs)

    @classmethod
    def from_artifact(cls, artifact: Any) -> ExplainResult:
        """Rebuild the result from ``reader.artifact(id)`` (checks the kind and version)."""
        kind = artifact.info.kind
        if kind != cls.kind:
            raise InvalidArgumentError(
                f"artifact {artifact.info.id} is a {kind!r}, not {cls.kind!r}"
            )
        version = artifact.data.get("version", ARTIFACT_VERSION)
        if version > ARTIFACT_VERSION:
            raise InvalidArgumentError(
                f"artifact {artifact.info.id} has version {version}; upgrade deepscope to read it"
            )
        return cls._from_data(artifact.data, dict(artifact.blobs))

    def _data(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_data(cls, data: dict[str, Any], blobs: Blobs) -> ExplainResult:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        from deepscope.integrations.notebook import explain_html

        return explain_html(self)

    def blob_image(self, key: str) -> np.ndarray:
        """Decode one stored PNG blob to an array."""
        if key not in self.blobs:
            raise InvalidArgumentError(f"no image {key!r} in this {self.kind} result")
        return decode_png(self.blobs[key][1])
