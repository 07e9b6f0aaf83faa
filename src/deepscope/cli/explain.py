"""``deepscope explain ...``: run an explain method on a model factory and a data set.

Every command loads a model from ``module:function`` (or ``path/to/file.py:function``; the
working directory is importable), optionally loads a ``state_dict`` saved with ``torch.save``
(read with ``weights_only=True``; without one it says the model is explained untrained), runs
the method on a bundled data set or the user's own data (``explain_data.py``) and stores the
result in a new run, which ``deepscope ui`` and ``deepscope report`` then show.

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

from deepscope.cli._output import err_console, friendly_errors
from deepscope.cli.explain_data import DATASETS, load_dataset, require_labels
from deepscope.errors import InvalidArgumentError

explain_app = typer.Typer(
    help="Explain a model into a new run: attributions, embeddings, predictions, weights, "
    "feature importance, decision boundary.",
    no_args_is_help=True,
)

ModelArg = typer.Argument(
    ..., help="Model factory: 'package.module:function' or 'file.py:function'."
)
WeightsOpt = typer.Option(None, "--weights", help="state_dict file to load into the model.")
DatasetOpt = typer.Option(
    "digits", "--dataset",
    help=f"One of {', '.join(DATASETS)}, or a .npz/.npy/.csv file, or a folder of images.",
)
DirOpt = typer.Option(Path("deepscope-runs"), "--dir", help="Directory for the new run.")
NameOpt = typer.Option(None, "--name", help="Run name (default: explain-<command>).")
RawOpt = typer.Option(False, "--raw", help="Do not standardise the inputs.")


def _import_from_cwd(name: str) -> Any:
    """Import ``name`` with the working directory on ``sys.path`` (as ``python -m`` and
    ``deepscope summary`` do), so ``mypkg.models:make`` works from the package's directory.
    """
    added = str(Path.cwd())
    sys.path.insert(0, added)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(added)


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
            module = _import_from_cwd(where)
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
    if weights is None:
        err_console.print(
            f"note: no --weights given: explaining the model exactly as {spec} returns it "
            "(untrained, unless the factory loads its weights)", highlight=False, soft_wrap=True)
    else:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except (OSError, RuntimeError, KeyError, ValueError, pickle.UnpicklingError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InvalidArgumentError(f"cannot load weights {str(weights)!r}: {first}") from None
    return model.eval()


def _store(
    result: Any, command: str, model: str, dataset: str, name: str | None, root: Path
) -> None:
    import deepscope as ds

    config = {"command": f"explain {command}", "model": model, "dataset": dataset}
    with ds.init(name=name or f"explain-{command}", dir=root, config=config) as run:
        run.log_artifact(result)
    typer.echo(f"stored {result.kind} in {run.path}")


def _sample(
    data: dict[str, Any], n: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    if n < 1:
        raise InvalidArgumentError(f"--n must be >= 1, got {n}")
    idx = np.random.default_rng(seed).permutation(len(data["X"]))[:n]
    return data["X"][idx], None if data["y"] is None else data["y"][idx]


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
    labels = require_labels(data, dataset, "predictions")
    res = predictions(build_model(model, weights), data["X"], labels, classes=data["classes"])
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
        require_labels(data, dataset, "importance"),
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
        data["X"].reshape(len(data["X"]), -1),
        require_labels(data, dataset, "boundary"),
        classes=data["classes"],
        feature_names=data["feature_names"],
    )
    _store(res, "boundary", model, dataset, name, root)
