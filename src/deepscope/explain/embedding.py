"""Embeddings: a layer's activations projected to 2-D or 3-D (PCA, t-SNE, UMAP).

PCA is scikit-learn's, t-SNE is openTSNE's FFT-accelerated version (Linderman et al. 2019;
``bench/explain.py`` measures it against scikit-learn's TSNE in the same run) and UMAP comes from
the optional ``umap-learn`` package. Nearest neighbours are computed in the activation space, not
in the projection, so the neighbour list of a point says what the layer itself considers close.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepscope.errors import InvalidArgumentError, OptionalDependencyError
from deepscope.explain._model import as_labels, as_tensor, capture, last_layer_of
from deepscope.explain.artifacts import (
    PNG,
    Blobs,
    ExplainResult,
    class_names,
    clean,
    encode_png,
    sprite,
    to_display,
    unclean,
)

EMBED_METHODS = ("pca", "tsne", "umap")
# t-SNE/UMAP on wide activations: reduce to 50 PCA components first (standard practice, e.g.
# openTSNE and scikit-learn docs); neighbours in 50-D PCA space keep most of the structure.
_PREREDUCE_ABOVE = 100
_PREREDUCE_TO = 50
_FFT_FROM = 5000
_EXACT_NEIGHBORS_UP_TO = 20_000
_THUMB_MAX = 32  # thumbnails larger than 32 px on a side are subsampled


@dataclass
class Embedding(ExplainResult):
    """Projected activations of one layer with labels, neighbours and thumbnails.

    Example:
        >>> emb = ds.explain.embed(model, X, layer="fc1", labels=y, method="pca")  # doctest: +SKIP
        >>> emb.points.shape, emb.neighbors_of(0, k=3)  # doctest: +SKIP
        ((1797, 2), [877, 1541, 1029])

    """

    kind = "embedding"
    layer: str | None
    method: str
    points: np.ndarray
    neighbors: np.ndarray
    input_dim: int
    labels: np.ndarray | None = None
    classes: list[str] | None = None
    explained_variance: list[float] | None = None
    sprite_info: dict[str, Any] | None = None
    blobs: Blobs = field(default_factory=dict)

    @property
    def dims(self) -> int:
        return int(self.points.shape[1])

    def neighbors_of(self, index: int, k: int | None = None) -> list[int]:
        """Indices of the nearest points to ``index`` in the layer's activation space."""
        if not 0 <= index < len(self.points):
            raise InvalidArgumentError(f"point {index} out of range 0..{len(self.points) - 1}")
        row = self.neighbors[index]
        return [int(i) for i in (row if k is None else row[:k])]

    def _data(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "method": self.method,
            "dims": self.dims,
            "n": len(self.points),
            "input_dim": self.input_dim,
            "points": clean(self.points, 4),
            "labels": None if self.labels is None else clean(self.labels),
            "classes": self.classes,
            "neighbors": clean(self.neighbors),
            "explained_variance": self.explained_variance,
            "sprite": self.sprite_info,
        }

    @classmethod
    def _from_data(cls, data: dict[str, Any], blobs: Blobs) -> Embedding:
        labels = data.get("labels")
        return cls(
            layer=data.get("layer"),
            method=data["method"],
            points=unclean(data["points"]),
            neighbors=np.asarray(data["neighbors"], dtype=np.int64),
            input_dim=int(data["input_dim"]),
            labels=None if labels is None else np.asarray(labels, dtype=np.int64),
            classes=data.get("classes"),
            explained_variance=data.get("explained_variance"),
            sprite_info=data.get("sprite"),
            blobs=blobs,
        )


def _activations(
    model: Any, x: Any, layer: str | None, batch_size: int
) -> tuple[np.ndarray, str | None]:
    if model is None:
        arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
        return arr.reshape(len(arr), -1).astype(np.float32), None
    from torch import nn

    xt = as_tensor(x)
    if layer is None:  # the input of the last Linear layer: the model's final features
        found = last_layer_of(model, (nn.Linear,)) if isinstance(model, nn.Module) else None
        if found is None:
            raise InvalidArgumentError("no nn.Linear layer found: pass layer='name'")
        return capture(model, xt, found[0], batch_size, use_input=True), f"{found[0]} (input)"
    return capture(model, xt, layer, batch_size), layer


def _project_pca(a: np.ndarray, dims: int, seed: int, prev: np.ndarray | None) -> tuple:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=dims, random_state=seed)
    pts = pca.fit_transform(a)
    if prev is not None:  # keep orientation stable over training steps
        signs = np.sign(np.sum(pts * prev, axis=0))
        pts = pts * np.where(signs == 0, 1.0, signs)
    return pts, [round(float(v), 6) for v in pca.explained_variance_ratio_]


def _prereduce(a: np.ndarray, seed: int) -> np.ndarray:
    if a.shape[1] <= _PREREDUCE_ABOVE or len(a) <= _PREREDUCE_TO:
        return a
    from sklearn.decomposition import PCA

    return PCA(n_components=_PREREDUCE_TO, random_state=seed).fit_transform(a)


def _gradient_method(n: int, dims: int) -> str:
    # openTSNE's FFT interpolation has a fixed per-iteration grid cost (~27 ms here, 2 cores), so
    # Barnes-Hut wins on small sets (800 digits: 1.5 s vs 20 s); FFT wins from a few thousand
    # points (bench/explain.py). FFT supports at most 2 dimensions.
    return "fft" if dims <= 2 and n >= _FFT_FROM else "bh"


def _project_tsne(
    a: np.ndarray, dims: int, seed: int, prev: np.ndarray | None, opts: dict
) -> np.ndarray:
    from openTSNE import TSNE

    n = len(a)
    perplexity = float(opts.pop("perplexity", 30.0))
    perplexity = min(perplexity, max(2.0, (n - 1) / 3.0))
    init: Any = "pca"
    if prev is not None:  # openTSNE expects a small-scale initialisation (std 1e-4)
        init = prev / (np.std(prev[:, 0]) or 1.0) * 1e-4
    method = opts.pop("negative_gradient_method", _gradient_method(n, dims))
    if method == "fft":
        # A 3x coarser interpolation grid than openTSNE's default: with the numpy FFT of the pip
        # wheels the default grid grows with the map and dominates (10,000 x 64, 1 thread:
        # ~500 s); ints_in_interval=3 took 39 s with the same 5-NN accuracy (0.996 vs 0.997).
        opts.setdefault("ints_in_interval", 3)
    tsne = TSNE(
        n_components=dims,
        perplexity=perplexity,
        n_jobs=int(opts.pop("n_jobs", 2)),
        random_state=seed,
        initialization=init,
        negative_gradient_method=method,
        # Exact neighbours (brute force) up to 20,000 points: 5.6 s against Annoy's 17 s for
        # 10,000 x 64 here; Annoy's approximate index wins on larger sets.
        neighbors=opts.pop("neighbors", "exact" if n <= _EXACT_NEIGHBORS_UP_TO else "annoy"),
        **opts,
    )
    return np.asarray(tsne.fit(_prereduce(a, seed)))


def _project_umap(
    a: np.ndarray, dims: int, seed: int, prev: np.ndarray | None, opts: dict
) -> np.ndarray:
    try:
        import umap
    except ImportError:
        raise OptionalDependencyError(
            "method='umap' needs the umap-learn package: pip install deepscope[umap]"
        ) from None
    init = prev if prev is not None else "spectral"
    reducer = umap.UMAP(n_components=dims, random_state=seed, init=init, **opts)
    return np.asarray(reducer.fit_transform(_prereduce(a, seed)))


def _project(
    method: str, a: np.ndarray, dims: int, seed: int, prev: np.ndarray | None, opts: dict
) -> tuple[np.ndarray, list[float] | None]:
    if method == "pca":
        if opts:
            raise InvalidArgumentError(f"pca takes no options, got {sorted(opts)}")
        return _project_pca(a, dims, seed, prev)
    if method == "tsne":
        return _project_tsne(a, dims, seed, prev, opts), None
    return _project_umap(a, dims, seed, prev, opts), None


def _neighbors(a: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(a) - 1)
    if k <= 0:
        return np.zeros((len(a), 0), dtype=np.int64)
    nn_index = NearestNeighbors(n_neighbors=k + 1).fit(a)
    _, idx = nn_index.kneighbors(a)
    # Drop each point itself (duplicates may put it in any column).
    out = np.array([[j for j in row if j != i][:k] for i, row in enumerate(idx)])
    return out.astype(np.int64)


def _thumbnails(images: Any, n: int) -> tuple[dict[str, Any], Blobs] | tuple[None, Blobs]:
    arr = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if len(arr) != n:
        raise InvalidArgumentError(f"{len(arr)} thumbnails for {n} points")
    if arr.ndim not in (3, 4):
        return None, {}
    h, w = arr.shape[-2:]
    step = max(1, int(np.ceil(max(h, w) / _THUMB_MAX)))
    thumbs = [to_display(img[..., ::step, ::step]) for img in arr]
    sheet, cols = sprite(thumbs)
    info = {
        "key": "sprite",
        "cols": cols,
        "width": thumbs[0].shape[1],
        "height": thumbs[0].shape[0],
    }
    return info, {"sprite": (PNG, encode_png(sheet))}


def embed(
    model: Any,
    X: Any,
    layer: str | None = None,
    labels: Any = None,
    method: str = "pca",
    dims: int = 2,
    *,
    classes: Sequence[Any] | None = None,
    images: Any = None,
    thumbnails: bool = True,
    n_neighbors: int = 10,
    init: Embedding | None = None,
    random_state: int = 0,
    batch_size: int = 512,
    **options: Any,
) -> Embedding:
    """Capture ``layer``'s activations on ``X`` and project them to ``dims`` dimensions.

    Args:
        model: a ``torch.nn.Module``; None embeds ``X`` itself.
        X: inputs (``N x ...``). Image batches (3-D/4-D) also become hover thumbnails.
        layer: module name whose output is captured (default: the input of the last Linear).
        labels: integer class per sample, stored for colours.
        classes: names of the labels.
        method: ``pca``, ``tsne`` (openTSNE) or ``umap`` (needs ``pip install deepscope[umap]``).
        dims: 2 or 3.
        images: thumbnails to show on hover (default: ``X`` when it is an image batch).
        thumbnails: set False to store no thumbnails.
        n_neighbors: neighbours stored per point (in the activation space).
        init: the embedding of an earlier training step: aligns the new one to it, so clusters
            can be followed over steps (same points in the same order).
        random_state: seed.
        batch_size: forward batch size.
        **options: passed to the projection (``perplexity``, ``n_jobs``, UMAP's ``n_neighbors``...).
            t-SNE uses 2 threads by default; on a machine whose cores are busy with other work,
            ``n_jobs=1`` is faster (openTSNE's threads wait on each other at every iteration).

    Returns:
        An :class:`Embedding`; ``run.log_artifact(emb, step=step)`` stores it.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> emb = ds.explain.embed(model, X, layer="fc1", labels=y, method="tsne")  # doctest: +SKIP
        >>> run.log_artifact(emb, step=100)  # doctest: +SKIP

    """
    if method not in EMBED_METHODS:
        raise InvalidArgumentError(
            f"unknown embedding method {method!r}; choose from {EMBED_METHODS}"
        )
    if dims not in (2, 3):
        raise InvalidArgumentError(f"dims must be 2 or 3, got {dims}")
    acts, layer_name = _activations(model, X, layer, batch_size)
    n = len(acts)
    if n < dims + 2:
        raise InvalidArgumentError(f"need at least {dims + 2} points to embed, got {n}")
    if not np.all(np.isfinite(acts)):
        raise InvalidArgumentError("activations contain NaN or Inf; cannot embed them")
    if init is not None and init.points.shape != (n, dims):
        raise InvalidArgumentError(f"init has {init.points.shape}, expected {(n, dims)}")
    prev = None if init is None else init.points
    points, explained = _project(method, acts, dims, random_state, prev, dict(options))
    lab = None if labels is None else as_labels(labels, n)
    names = None if lab is None else class_names(classes, int(lab.max()) + 1)
    sprite_info, blobs = None, {}
    if thumbnails:
        sprite_info, blobs = _thumbnails(images if images is not None else X, n)
    return Embedding(
        layer=layer_name,
        method=method,
        points=np.asarray(points, dtype=float),
        neighbors=_neighbors(acts, n_neighbors),
        input_dim=int(acts.shape[1]),
        labels=lab,
        classes=names,
        explained_variance=explained,
        sprite_info=sprite_info,
        blobs=blobs,
    )
