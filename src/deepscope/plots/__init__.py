"""matplotlib figures of runs and explain results, for notebooks and PNG/SVG files.

Every function returns a :class:`matplotlib.figure.Figure` and draws into ``ax`` when given.
Figures are made without pyplot, so they are safe in scripts, threads and servers; in a notebook
they display as the cell's value, and ``fig.savefig("x.png")`` (or ``.svg``) writes a file.

Example:
    >>> from deepscope import plots  # doctest: +SKIP
    >>> with ds.open_run(path) as r:  # doctest: +SKIP
    ...     plots.plot_scalars(r, ["train/loss", "val/loss"]).savefig("loss.svg")

"""

from __future__ import annotations

from deepscope.plots.explain import (
    plot_attributions,
    plot_decision_boundary,
    plot_embedding,
    plot_feature_importance,
    plot_maximization,
)
from deepscope.plots.predictions import (
    plot_calibration,
    plot_class_probabilities,
    plot_confusion_matrix,
    plot_mistakes,
)
from deepscope.plots.run import (
    plot_gradient_flow,
    plot_histograms,
    plot_layer_heatmap,
    plot_scalars,
)
from deepscope.plots.weights import plot_filters, plot_spectrum, plot_weight_matrix

__all__ = [
    "plot_attributions",
    "plot_calibration",
    "plot_class_probabilities",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_embedding",
    "plot_feature_importance",
    "plot_filters",
    "plot_gradient_flow",
    "plot_histograms",
    "plot_layer_heatmap",
    "plot_maximization",
    "plot_mistakes",
    "plot_scalars",
    "plot_spectrum",
    "plot_weight_matrix",
]
