"""Model plumbing shared by the explain modules: tensors, eval mode, batched forwards, layers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.errors import InvalidArgumentError


def as_tensor(x: Any, device: torch.device | None = None) -> torch.Tensor:
    """A tensor from a tensor or array; float64 becomes float32 (what models expect)."""
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as err:
            raise InvalidArgumentError(f"inputs must be a tensor or numeric array: {err}") from None
    if t.dtype == torch.float64:
        t = t.float()
    return t if device is None else t.to(device)


def as_labels(y: Any, n: int) -> np.ndarray:
    """Integer labels as a 1-D array of length ``n``."""
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim != 1 or len(arr) != n:
        raise InvalidArgumentError(f"labels must be 1-D with {n} entries, got shape {arr.shape}")
    if arr.dtype.kind not in "iub":
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise InvalidArgumentError("labels must be integer class indices")
    return arr.astype(np.int64)


def model_device(model: Any) -> torch.device:
    """The device of the model's first parameter (CPU for parameter-less callables)."""
    if isinstance(model, nn.Module):
        for p in model.parameters():
            return p.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Put a module in eval mode and restore its previous mode afterwards."""
    if not isinstance(model, nn.Module):
        yield
        return
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def check_model(model: Any) -> None:
    """Fail clearly when ``model`` cannot be called."""
    if not callable(model):
        raise InvalidArgumentError(
            f"model must be a torch.nn.Module or callable, got {type(model).__name__}"
        )


def forward_batches(
    model: Callable[..., Any], x: torch.Tensor, batch_size: int = 512
) -> torch.Tensor:
    """Outputs of ``model`` on ``x`` in batches, without gradients, on the CPU."""
    check_model(model)
    device = model_device(model)
    outs = []
    with torch.no_grad(), eval_mode(model):
        for i in range(0, len(x), batch_size):
            out = model(x[i : i + batch_size].to(device))
            if isinstance(out, (tuple, list)):
                out = out[0]
            if hasattr(out, "logits"):
                out = out.logits
            outs.append(out.detach().float().cpu())
    if not outs:
        raise InvalidArgumentError("inputs are empty")
    return torch.cat(outs)


def to_probabilities(outputs: torch.Tensor) -> np.ndarray:
    """Class probabilities from logits: softmax over classes; one output column = sigmoid."""
    out = outputs.reshape(len(outputs), -1).float()
    if out.shape[1] == 1:
        p = torch.sigmoid(out)
        out = torch.cat([1 - p, p], dim=1)
        return out.numpy().astype(float)
    s = out.sum(dim=1)
    if bool((out >= 0).all()) and bool(torch.allclose(s, torch.ones_like(s), atol=1e-4)):
        return out.numpy().astype(float)  # already probabilities
    return torch.softmax(out, dim=1).numpy().astype(float)


def predict_proba(model: Callable[..., Any], x: Any, batch_size: int = 512) -> np.ndarray:
    """``N x C`` class probabilities of ``model`` on ``x``.

    Example:
        >>> predict_proba(torch.nn.Linear(4, 3), torch.zeros(2, 4)).shape
        (2, 3)

    """
    return to_probabilities(forward_batches(model, as_tensor(x), batch_size))


def resolve_layer(model: nn.Module, name: str) -> nn.Module:
    """The sub-module called ``name``; the error lists the valid names."""
    if not isinstance(model, nn.Module):
        raise InvalidArgumentError("a layer can only be chosen on a torch.nn.Module")
    try:
        return model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise InvalidArgumentError(f"model has no layer {name!r}; layers: {shown}") from None


def last_layer_of(model: nn.Module, types: tuple[type, ...]) -> tuple[str, nn.Module] | None:
    """The last sub-module (registration order) that is an instance of ``types``."""
    found = None
    for n, m in model.named_modules():
        if isinstance(m, types):
            found = (n, m)
    return found


def capture(
    model: nn.Module, x: torch.Tensor, layer: str, batch_size: int = 512, use_input: bool = False
) -> np.ndarray:
    """Activations (or inputs) of one layer for every sample, flattened to ``N x D``."""
    module = resolve_layer(model, layer)
    chunks: list[torch.Tensor] = []

    def hook(_m: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        t = inputs[0] if use_input else output
        if isinstance(t, (tuple, list)):
            t = t[0]
        chunks.append(t.detach().float().reshape(t.shape[0], -1).cpu())

    handle = module.register_forward_hook(hook)
    try:
        forward_batches(model, x, batch_size)
    finally:
        handle.remove()
    if not chunks:
        raise InvalidArgumentError(f"layer {layer!r} was not called in the model's forward pass")
    return torch.cat(chunks).numpy()
