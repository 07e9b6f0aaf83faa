"""Explain a model: attributions, feature importance, embeddings, activation maximisation,
decision boundaries, predictions and weight pictures.

Every function returns a result with ``kind`` and ``to_artifact()``; store it in a run with
``run.log_artifact(result)`` and it shows up in the dashboard, the report and ``deepscope.plots``.

Example:
    >>> import deepscope as ds  # doctest: +SKIP
    >>> res = ds.explain.attribute(model, x[:16], method="integrated_gradients")  # doctest: +SKIP
    >>> run.log_artifact(res)  # doctest: +SKIP

"""

from __future__ import annotations

from deepscope.explain.attribution import METHODS, Attributions, attribute
from deepscope.explain.boundary import DecisionBoundary, decision_boundary
from deepscope.explain.embedding import EMBED_METHODS, Embedding, embed
from deepscope.explain.importance import FeatureImportance, feature_importance
from deepscope.explain.maximize import Maximization, maximize
from deepscope.explain.predictions import Predictions, predictions
from deepscope.explain.weights import Weights, weights

#: Result class per artifact kind (``RESULT_TYPES[info.kind].from_artifact(artifact)``).
RESULT_TYPES = {
    cls.kind: cls
    for cls in (
        Attributions,
        FeatureImportance,
        Embedding,
        Maximization,
        DecisionBoundary,
        Predictions,
        Weights,
    )
}


def load(artifact: object) -> object:
    """The explain result stored in ``artifact`` (from ``reader.artifact(id)``).

    Example:
        >>> with ds.open_run(path) as r:  # doctest: +SKIP
        ...     emb = ds.explain.load(r.artifact(r.artifacts("embedding")[-1].id))

    """
    from deepscope.errors import InvalidArgumentError

    kind = getattr(getattr(artifact, "info", None), "kind", None)
    if kind not in RESULT_TYPES:
        raise InvalidArgumentError(f"not an explain artifact: kind {kind!r}")
    return RESULT_TYPES[kind].from_artifact(artifact)


__all__ = [
    "EMBED_METHODS",
    "METHODS",
    "RESULT_TYPES",
    "Attributions",
    "DecisionBoundary",
    "Embedding",
    "FeatureImportance",
    "Maximization",
    "Predictions",
    "Weights",
    "attribute",
    "decision_boundary",
    "embed",
    "feature_importance",
    "load",
    "maximize",
    "predictions",
    "weights",
]
