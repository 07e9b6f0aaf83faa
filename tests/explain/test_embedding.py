from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

import deepscope as ds
from deepscope.errors import InvalidArgumentError, OptionalDependencyError
from deepscope.explain._model import capture


def _knn_accuracy(points: np.ndarray, labels: np.ndarray) -> float:
    return float(cross_val_score(KNeighborsClassifier(5), points, labels, cv=5).mean())


@pytest.mark.parametrize(("method", "floor"), [("tsne", 0.85), ("pca", 0.5)])
def test_embedding_separates_digit_classes(mlp, digits, method, floor):
    flat, images, y = digits
    # One t-SNE thread: the test machine's cores are shared, and spinning threads of an
    # oversubscribed OpenMP pool cost 10x.
    opts = {"n_jobs": 1} if method == "tsne" else {}
    emb = ds.explain.embed(
        mlp, flat[:600], layer="body.3", labels=y[:600], method=method, images=images[:600], **opts
    )
    assert emb.points.shape == (600, 2)
    assert emb.input_dim == 32 and emb.layer == "body.3"
    # Chance is 0.1 for ten balanced classes.
    assert _knn_accuracy(emb.points, y[:600]) > floor


def test_neighbours_are_nearest_in_activation_space(mlp, digits):
    flat, _, y = digits
    emb = ds.explain.embed(mlp, flat[:200], layer="body.1", labels=y[:200], n_neighbors=5)
    acts = capture(mlp, flat[:200], "body.1")
    d = ((acts[:, None, :] - acts[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    for i in (0, 17, 199):
        brute = np.sort(d[i])[:5]
        assert np.allclose(np.sort(d[i, emb.neighbors_of(i)]), brute, rtol=1e-4)
    with pytest.raises(InvalidArgumentError, match="out of range"):
        emb.neighbors_of(200)


def test_default_layer_is_input_of_last_linear_and_thumbnails_form_a_sprite(mlp, digits):
    flat, images, y = digits
    emb = ds.explain.embed(mlp, flat[:50], labels=y[:50], images=images[:50])
    assert emb.layer == "head (input)"
    info = emb.sprite_info
    assert info["width"] == 8 and info["height"] == 8 and info["cols"] == 8
    sheet = emb.blob_image("sprite")
    assert sheet.shape[:2] == (7 * 8, 8 * 8)
    assert emb.classes == [str(c) for c in range(10)]


def test_three_dimensions_and_raw_inputs(digits):
    flat, _, y = digits
    emb = ds.explain.embed(None, flat[:300], labels=y[:300], method="tsne", dims=3, n_jobs=1)
    assert emb.points.shape == (300, 3) and emb.layer is None
    assert emb.sprite_info is None  # flat rows are not images


def test_init_keeps_pca_orientation_over_steps(digits):
    flat, _, y = digits
    first = ds.explain.embed(None, flat[:300], method="pca")
    flipped = ds.explain.embed(None, -flat[:300], method="pca", init=first)
    # Negating the data flips the principal axes; alignment flips them back.
    assert np.sum(first.points * flipped.points) > 0


def test_umap_without_the_extra_names_the_install_command(digits):
    flat, _, _ = digits
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(OptionalDependencyError, match=r"pip install deepscope\[umap\]"):
            ds.explain.embed(None, flat[:50], method="umap")
    else:
        pytest.skip("umap-learn is installed")


def test_bad_arguments(mlp, digits):
    flat, _, y = digits
    with pytest.raises(InvalidArgumentError, match="unknown embedding method"):
        ds.explain.embed(mlp, flat[:50], method="isomap")
    with pytest.raises(InvalidArgumentError, match="dims"):
        ds.explain.embed(mlp, flat[:50], dims=4)
    with pytest.raises(InvalidArgumentError, match="labels"):
        ds.explain.embed(mlp, flat[:50], labels=y[:10])
    with pytest.raises(InvalidArgumentError, match="no layer"):
        ds.explain.embed(mlp, flat[:50], layer="fc9")
    bad = flat[:50].clone()
    bad[3, 3] = float("nan")
    with pytest.raises(InvalidArgumentError, match="NaN"):
        ds.explain.embed(None, bad)
