from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.datasets import make_moons
from torch import nn

import deepscope as ds
from deepscope import plots
from deepscope.errors import InvalidArgumentError, NotRecordedError
from deepscope.store import open_reader


def _renders(fig: Figure) -> None:
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml")):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
        assert buf.getvalue().startswith(magic)
    assert fig.axes and any(ax.has_data() or ax.images or ax.texts for ax in fig.axes)


@pytest.fixture(scope="module")
def results(cnn, digits, cancer_mlp, cancer):
    flat, images, y = digits
    X, yc, names = cancer
    xm, ym = make_moons(80, random_state=0)
    torch.manual_seed(0)
    moons = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    ids = torch.randint(1, 20, (2, 5))

    class Tok(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 4)
            self.fc = nn.Linear(4, 2)

        def forward(self, t):
            return self.fc(self.emb(t).mean(1))

    return {
        "image_attr": ds.explain.attribute(cnn, images[:6], method="integrated_gradients"),
        "tab_attr": ds.explain.attribute(cancer_mlp, X[:5], method="saliency", feature_names=names),
        "tok_attr": ds.explain.attribute(Tok(), ids, method="integrated_gradients"),
        "importance": ds.explain.feature_importance(
            cancer_mlp, X, yc, repeats=3, feature_names=names
        ),
        "embedding": ds.explain.embed(cnn, images[:100], layer="conv2", labels=y[:100]),
        "embedding3": ds.explain.embed(None, flat[:60], method="pca", dims=3),
        "maximization": ds.explain.maximize(
            cnn, "conv2", [0, 1, 2], input_shape=(1, 8, 8), steps=5
        ),
        "boundary": ds.explain.decision_boundary(moons, xm, ym, resolution=20),
        "predictions": ds.explain.predictions(cnn, images[1500:], y[1500:]),
        "weights": ds.explain.weights(cnn),
    }


def test_explain_figures_render(results):
    r = results
    figures = [
        plots.plot_attributions(r["image_attr"], opacity=0.4),
        plots.plot_attributions(r["tab_attr"]),
        plots.plot_attributions(r["tab_attr"], index=2),
        plots.plot_attributions(r["tok_attr"]),
        plots.plot_feature_importance(r["importance"], top=5),
        plots.plot_embedding(r["embedding"], highlight=3),
        plots.plot_embedding(r["embedding3"]),
        plots.plot_maximization(r["maximization"]),
        plots.plot_decision_boundary(r["boundary"]),
        plots.plot_confusion_matrix(r["predictions"]),
        plots.plot_confusion_matrix(r["predictions"], normalize=True),
        plots.plot_calibration(r["predictions"]),
        plots.plot_mistakes(r["predictions"]),
        plots.plot_class_probabilities(r["predictions"], 0),
        plots.plot_filters(r["weights"], "conv1"),
        plots.plot_weight_matrix(r["weights"], "fc"),
        plots.plot_spectrum(r["weights"]),
    ]
    for fig in figures:
        _renders(fig)


def test_figures_draw_into_given_axes_and_show_the_data(results):
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert plots.plot_confusion_matrix(results["predictions"], ax=ax1) is fig
    cm = results["predictions"].confusion
    cells = [t for t in ax1.texts if t.get_text().isdigit()]
    assert sum(int(t.get_text()) for t in cells) == cm.sum()
    plots.plot_feature_importance(results["importance"], top=3, ax=ax2)
    labels = [t.get_text() for t in ax2.get_yticklabels()]
    top3 = [results["importance"].feature_names[i] for i in results["importance"].order[:3]]
    assert labels == top3[::-1]  # most important at the top


def test_figures_accept_stored_artifacts(results, tmp_path):
    with ds.init(name="p", dir=tmp_path) as run:
        run.log_artifact(results["predictions"])
    with ds.open_run(run.path) as reader:
        art = reader.artifact(reader.artifacts("predictions")[0].id)
        _renders(plots.plot_calibration(art))
    with pytest.raises(InvalidArgumentError, match="expected a Predictions"):
        plots.plot_calibration(results["weights"])


def test_run_figures(run_path):
    with open_reader(run_path) as r:
        _renders(plots.plot_scalars(r, ["train/loss", "val/loss"]))
        _renders(plots.plot_layer_heatmap(r, "grad", "norm"))
        fig = plots.plot_gradient_flow(r, step=10)
        heights = [p.get_height() for p in fig.axes[0].patches]
        assert np.allclose(heights, [11.0, 1.1, 0.11])  # norm = 10^-i * (1 + step)
        _renders(fig)
        _renders(plots.plot_gradient_flow(r))
        _renders(plots.plot_histograms(r, "fc2", "weight"))


def test_run_figures_say_what_is_missing(run_path):
    with open_reader(run_path) as r:
        with pytest.raises(NotRecordedError):
            plots.plot_scalars(r, "val/acc")
        with pytest.raises(NotRecordedError, match="step 7"):
            plots.plot_gradient_flow(r, step=7)
        with pytest.raises(NotRecordedError):
            plots.plot_histograms(r, "fc9", "weight")
