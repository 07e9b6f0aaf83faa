"""``deepscope explain ...``: run an explain method on a model factory and a bundled dataset.

Every command loads a model from ``module:function`` (or ``path/to/file.py:function``), optionally
loads a ``state_dict`` saved with ``torch.save`` (read with ``weights_only=True``), runs the method
on a scikit-learn bundled dataset and stores the result in a new run, which ``deepscope ui`` and
``deepscope report`` then show.

    deepscope explain embed mypkg.models:make_mlp --dataset digits-flat --layer fc1 --method tsne
"""

from __future__ import annotations

import importlib
import importlib.util
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import typer

from deepscope.cli._output import friendly_errors
from deepscope.errors import InvalidArgumentError

explain_app = typer.Typer(
    help="Explain a model into a new run: attributions, embeddings, predictions, weights, "
    "feature importance, decision boundary.",
    no_args_is_help=True,
)

DATASETS = ("digits", "digits-flat", "breast_cancer", "wine", "moons")

ModelArg = typer.Argument(
    ..., help="Model factory: 'package.module:function' or 'file.py:function'."
)
WeightsOpt = typer.Option(None, "--weights", help="state_dict file to load into the model.")
DatasetOpt = typer.Option("digits", "--dataset", help=f"One of {', '.join(DATASETS)}.")
DirOpt = typer.Option(Path("deepscope-runs"), "--dir", help="Directory for the new run.")
NameOpt = typer.Option(None, "--name", help="Run name (default: explain-<command>).")
RawOpt = typer.Option(False, "--raw", help="Do not standardise the inputs.")


def load_factory(spec: str) -> Callable[[], Any]:
    """The callable named by ``module:function`` or ``file.py:function``.

    Example:
        >>> load_factory("torch.nn:Identity")()
        Identity()

    """
    if ":" not in spec:
        raise InvalidArgumentError(f"model must look like 'module:function', got {spec!r}")
    where, attr = spec.rsplit(":", 1)
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise InvalidArgumentError(f"no such file {where!r}")
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(loader_spec)  # type: ignore[arg-type]
            sys.modules.setdefault(path.stem, module)
            loader_spec.loader.exec_module(module)  # type: ignore[union-attr]
        else:
            module = importlib.import_module(where)
    except ImportError as err:
        raise InvalidArgumentError(f"cannot import {where!r}: {err}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InvalidArgumentError(f"{where!r} has no callable {attr!r}")
    return fn


def build_model(spec: str, weights: Path | None) -> Any:
    """Call the factory and load ``weights`` (a state_dict) when given."""
    import torch
    from torch import nn

    model = load_factory(spec)()
    if not isinstance(model, nn.Module):
        raise InvalidArgumentError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except (OSError, RuntimeError, KeyError, ValueError, pickle.UnpicklingError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InvalidArgumentError(f"cannot load weights {str(weights)!r}: {first}") from None
    return model.eval()


def load_dataset(name: str, standardise: bool = True) -> dict[str, Any]:
    """A bundled dataset: ``X`` (float32), ``y``, ``classes``, ``feature_names``, ``images``.

    Example:
        >>> load_dataset("digits")["X"].shape
        (1797, 1, 8, 8)

    """
    from sklearn import datasets

    if name not in DATASETS:
        raise InvalidArgumentError(f"unknown dataset {name!r}; choose from {DATASETS}")
    if name == "moons":
        X, y = datasets.make_moons(500, noise=0.2, random_state=0)
        names, classes = ["x0", "x1"], ["0", "1"]
    else:
        loader = {"breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}
        data = loader.get(name, datasets.load_digits)()
        X, y = data.data, data.target
        names = [str(n) for n in getattr(data, "feature_names", [])] or None
        classes = [str(c) for c in data.target_names]
    X = X.astype(np.float32)
    if standardise:
        axis = None if name.startswith("digits") else 0
        X = (X - X.mean(axis=axis)) / np.maximum(X.std(axis=axis), 1e-8)
    images = name == "digits"
    return {
        "X": X.reshape(-1, 1, 8, 8) if images else X,
        "y": y.astype(np.int64),
        "classes": classes,
        "feature_names": None if images else names,
        "images": images,
    }


def _store(
    result: Any, command: str, model: str, dataset: str, name: str | None, root: Path
) -> None:
    import deepscope as ds

    config = {"command": f"explain {command}", "model": model, "dataset": dataset}
    with ds.init(name=name or f"explain-{command}", dir=root, config=config) as run:
        run.log_artifact(result)
    typer.echo(f"stored {result.kind} in {run.path}")


def _sample(data: dict[str, Any], n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    if n < 1:
        raise InvalidArgumentError(f"--n must be >= 1, got {n}")
    idx = np.random.default_rng(seed).permutation(len(data["y"]))[:n]
    return data["X"][idx], data["y"][idx]


@explain_app.command("attribute")
@friendly_errors
def attribute_command(
    model: str = ModelArg,
    method: str = typer.Option("integrated_gradients", "--method", help="Attribution method."),
    n: int = typer.Option(16, "--n", help="Samples to explain."),
    layer: str = typer.Option(None, "--layer", help="grad_cam layer (default: last conv)."),
    weights: Path = WeightsOpt,
    dataset: str = DatasetOpt,
    raw: bool = RawOpt,
    root: Path = DirOpt,
    name: str = NameOpt,
) -> None:
    """Attributions for N samples (heat maps for images, bars for tabular data)."""
    from deepscope.explain import attribute

    data = load_dataset(dataset, not raw)
    x, y = _sample(data, n)
    res = attribute(
        build_model(model, weights),
        x,
        method=method,
        layer=layer,
        labels=y,
        classes=data["classes"],
        feature_names=data["feature_names"],
    )
    _store(res, "attribute", model, dataset, name, root)


@explain_app.command("embed")
@friendly_errors
def embed_command(
    model: str = ModelArg,
    layer: str = typer.Option(
        None, "--layer", help="Layer to capture (default: input of the last Linear)."
    ),
    method: str = typer.Option("pca", "--method", help="pca, tsne or umap."),
    dims: int = typer.Option(2, "--dims", help="2 or 3."),
    n: int = typer.Option(1000, "--n", help="Points to embed."),
    weights: Path = WeightsOpt,
    dataset: str = DatasetOpt,
    raw: bool = RawOpt,
    root: Path = DirOpt,
    name: str = NameOpt,
) -> None:
    """Project a layer's activations to 2-D/3-D with labels, neighbours and thumbnails."""
    from deepscope.explain import embed

    data = load_dataset(dataset, not raw)
    x, y = _sample(data, n)
    res = embed(
        build_model(model, weights),
        x,
        layer=layer,
        labels=y,
        method=method,
        dims=dims,
        classes=data["classes"],
    )
    _store(res, "embed", model, dataset, name, root)


@explain_app.command("predictions")
@friendly_errors
def predictions_command(
    model: str = ModelArg,
    weights: Path = WeightsOpt,
    dataset: str = DatasetOpt,
    raw: bool = RawOpt,
    root: Path = DirOpt,
    name: str = NameOpt,
) -> None:
    """Confusion matrix, per-class metrics, calibration and the most confident mistakes."""
    from deepscope.explain import predictions

    data = load_dataset(dataset, not raw)
    res = predictions(build_model(model, weights), data["X"], data["y"], classes=data["classes"])
    _store(res, "predictions", model, dataset, name, root)
    typer.echo(f"accuracy {res.accuracy:.4f}, ECE {res.ece:.4f} on {res.n} samples")


@explain_app.command("weights")
@friendly_errors
def weights_command(
    model: str = ModelArg, weights: Path = WeightsOpt, root: Path = DirOpt, name: str = NameOpt
) -> None:
    """Filter grids, weight heat maps and spectra (power-law alpha) of every layer."""
    from deepscope.explain import weights as weights_fn

    res = weights_fn(build_model(model, weights))
    _store(res, "weights", model, "-", name, root)
    for e in res.layers:
        alpha = "-" if e["alpha"] is None else f"{e['alpha']:.2f}"
        typer.echo(f"{e['name']:<24} alpha {alpha:>6}  {e['quality']}")


@explain_app.command("importance")
@friendly_errors
def importance_command(
    model: str = ModelArg,
    method: str = typer.Option("permutation", "--method", help="permutation or ablation."),
    repeats: int = typer.Option(10, "--repeats", help="Repeats for the confidence interval."),
    weights: Path = WeightsOpt,
    dataset: str = typer.Option("breast_cancer", "--dataset", help="A tabular dataset."),
    raw: bool = RawOpt,
    root: Path = DirOpt,
    name: str = NameOpt,
) -> None:
    """Permutation (or ablation) feature importance with confidence intervals."""
    from deepscope.explain import feature_importance

    data = load_dataset(dataset, not raw)
    res = feature_importance(
        build_model(model, weights),
        data["X"],
        data["y"],
        method=method,
        repeats=repeats,
        feature_names=data["feature_names"],
    )
    _store(res, "importance", model, dataset, name, root)


@explain_app.command("boundary")
@friendly_errors
def boundary_command(
    model: str = ModelArg,
    weights: Path = WeightsOpt,
    dataset: str = typer.Option("moons", "--dataset", help="A tabular dataset."),
    raw: bool = RawOpt,
    root: Path = DirOpt,
    name: str = NameOpt,
) -> None:
    """Decision boundary on the data plane (the inputs, or their first two principal components)."""
    from deepscope.explain import decision_boundary

    data = load_dataset(dataset, not raw)
    res = decision_boundary(
        build_model(model, weights),
        data["X"].reshape(len(data["y"]), -1),
        data["y"],
        classes=data["classes"],
        feature_names=data["feature_names"],
    )
    _store(res, "boundary", model, dataset, name, root)
