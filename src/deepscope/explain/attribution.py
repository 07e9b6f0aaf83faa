"""Attributions: which parts of an input drove a prediction (Captum underneath).

Methods: ``saliency`` (Simonyan et al. 2013), ``integrated_gradients`` (Sundararajan et al. 2017),
``smoothgrad`` (Smilkov et al. 2017), ``gradient_shap`` (Lundberg & Lee 2017), ``occlusion``
(Zeiler & Fergus 2014) and ``grad_cam`` (Selvaraju et al. 2017). The result knows its input kind:
images get heat maps to lay over the input, tabular rows get per-feature values, token sequences
get one score per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepscope.errors import InvalidArgumentError
from deepscope.explain import _captum
from deepscope.explain._model import (
    as_labels,
    as_tensor,
    check_model,
    eval_mode,
    last_layer_of,
    model_device,
    resolve_layer,
    to_probabilities,
)
from deepscope.explain.artifacts import (
    PNG,
    Blobs,
    ExplainResult,
    class_names,
    clean,
    encode_png,
    heatmap_rgba,
    to_display,
)

METHODS = _captum.METHODS
INPUT_KINDS = ("image", "tabular", "tokens")
_MAP_MAX = 64  # stored per-sample maps are average-pooled to at most 64 x 64


@dataclass
class Attributions(ExplainResult):
    """Attributions of one method for a batch; ``samples`` follow ``docs/artifacts.md``.

    Example:
        >>> res = ds.explain.attribute(model, x[:8], method="saliency")  # doctest: +SKIP
        >>> res.samples[0]["target"], res.maps().shape  # doctest: +SKIP
        (3, (8, 8, 8))

    """

    kind = "attributions"
    method: str
    input_kind: str
    samples: list[dict[str, Any]]
    classes: list[str]
    signed: bool
    layer: str | None = None
    feature_names: list[str] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    blobs: Blobs = field(default_factory=dict)
    raw: np.ndarray | None = field(default=None, repr=False)

    def maps(self) -> np.ndarray:
        """Per-sample attribution arrays: ``N x H x W`` (images) or ``N x F`` (tabular)."""
        key = {"image": "map", "tabular": "values", "tokens": "scores"}[self.input_kind]
        rows = [np.asarray(s[key], dtype=float) for s in self.samples]
        if self.input_kind == "tokens":
            return np.array(rows, dtype=object)
        return np.stack(rows)

    def _data(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "input_kind": self.input_kind,
            "layer": self.layer,
            "classes": self.classes,
            "signed": self.signed,
            "samples": self.samples,
            "feature_names": self.feature_names,
            "params": self.params,
        }

    @classmethod
    def _from_data(cls, data: dict[str, Any], blobs: Blobs) -> Attributions:
        return cls(
            method=data["method"],
            input_kind=data["input_kind"],
            samples=data["samples"],
            classes=data["classes"],
            signed=data["signed"],
            layer=data.get("layer"),
            feature_names=data.get("feature_names"),
            params=data.get("params", {}),
            blobs=blobs,
        )


class _Forward:
    """Model outputs as a 2-D tensor of logits (tuples, HF outputs and 1-D outputs unwrapped)."""

    def __init__(self, model: Any):
        self.model = model

    def __call__(self, *args: Any) -> torch.Tensor:
        out = self.model(*args)
        if isinstance(out, (tuple, list)):
            out = out[0]
        if hasattr(out, "logits"):
            out = out.logits
        return out.reshape(out.shape[0], -1)


def _input_kind(x: torch.Tensor, given: str | None) -> str:
    if given is not None:
        if given not in INPUT_KINDS:
            raise InvalidArgumentError(f"input_kind must be one of {INPUT_KINDS}, got {given!r}")
        return given
    if not x.is_floating_point():
        if x.dim() != 2:
            raise InvalidArgumentError(
                f"integer inputs must be N x L token ids, got {tuple(x.shape)}"
            )
        return "tokens"
    if x.dim() == 2:
        return "tabular"
    if x.dim() in (3, 4):
        return "image"
    raise InvalidArgumentError(f"cannot attribute inputs of shape {tuple(x.shape)}")


def _pick_layer(model: Any, method: str, kind: str, layer: str | None) -> tuple[str | None, Any]:
    if method == "grad_cam" and kind != "image":
        raise InvalidArgumentError(
            f"grad_cam needs image inputs and a conv layer, not {kind} inputs"
        )
    needs = method == "grad_cam" or kind == "tokens"
    if not needs:
        return None, None
    if layer is not None:
        return layer, resolve_layer(model, layer)
    if not isinstance(model, nn.Module):
        raise InvalidArgumentError(f"{method} on {kind} inputs needs an nn.Module and layer=")
    types = (nn.Embedding,) if kind == "tokens" else (nn.Conv2d, nn.Conv1d, nn.Conv3d)
    found = last_layer_of(model, types)
    if found is None:
        what = "an nn.Embedding" if kind == "tokens" else "a conv layer"
        raise InvalidArgumentError(f"{method} needs {what}; none found, pass layer='name'")
    if kind == "tokens":  # the first embedding: where token ids enter the model
        found = next((n, m) for n, m in model.named_modules() if isinstance(m, nn.Embedding))
    return found


def _pool(m: np.ndarray) -> np.ndarray:
    h, w = m.shape
    if h <= _MAP_MAX and w <= _MAP_MAX:
        return m
    t = torch.as_tensor(m, dtype=torch.float32)[None, None]
    return F.adaptive_avg_pool2d(t, (min(h, _MAP_MAX), min(w, _MAP_MAX)))[0, 0].numpy()


def _image_sample(i: int, x: np.ndarray, attr: np.ndarray, signed: bool, blobs: Blobs) -> dict:
    a = attr if attr.ndim == 2 else attr.sum(axis=0)
    blobs[f"input_{i}"] = (PNG, encode_png(to_display(x)))
    blobs[f"heatmap_{i}"] = (PNG, encode_png(heatmap_rgba(a, signed)))
    return {"input": f"input_{i}", "heatmap": f"heatmap_{i}", "map": clean(_pool(a))}


def _sample_extra(
    kind: str,
    i: int,
    x: Any,
    attr: np.ndarray,
    signed: bool,
    blobs: Blobs,
    tokens: Sequence[Sequence[str]] | None,
) -> dict:
    if kind == "image":
        return _image_sample(i, x, attr, signed, blobs)
    if kind == "tabular":
        return {"values": clean(attr), "inputs": clean(x)}
    scores = attr.sum(axis=-1) if attr.ndim == 2 else attr
    words = [str(t) for t in tokens[i]] if tokens is not None else [str(int(t)) for t in x]
    if len(words) != len(scores):
        raise InvalidArgumentError(f"sample {i}: {len(words)} tokens for {len(scores)} positions")
    return {"tokens": words, "scores": clean(scores)}


def _targets(target: Any, probs: np.ndarray, n: int) -> np.ndarray:
    if target is None:
        return probs.argmax(axis=1)
    if isinstance(target, (int, np.integer)):
        return np.full(n, int(target))
    return as_labels(target, n)


def attribute(
    model: Any,
    inputs: Any,
    target: int | Sequence[int] | None = None,
    method: str = "integrated_gradients",
    *,
    layer: str | None = None,
    baselines: Any = None,
    labels: Any = None,
    classes: Sequence[Any] | None = None,
    feature_names: Sequence[str] | None = None,
    tokens: Sequence[Sequence[str]] | None = None,
    input_kind: str | None = None,
    **params: Any,
) -> Attributions:
    """Attribute the model's output for ``target`` to the input features of each sample.

    Args:
        model: a ``torch.nn.Module`` (or callable) returning ``N x C`` logits.
        inputs: ``N x C x H x W`` images, ``N x F`` tabular rows or ``N x L`` integer token ids.
        target: class to explain: one int, one per sample, or None for the predicted class.
        method: one of ``saliency``, ``integrated_gradients``, ``smoothgrad``, ``gradient_shap``,
            ``occlusion``, ``grad_cam``.
        layer: grad_cam: conv layer name (default: the last conv layer); tokens: the embedding
            layer (default: the first ``nn.Embedding``).
        baselines: reference input (default zeros; gradient_shap: zeros and the batch mean).
        labels: true labels, stored alongside for the gallery.
        classes: class names.
        feature_names: tabular column names.
        tokens: token strings per sample (default: the ids).
        input_kind: ``image``/``tabular``/``tokens`` when the shape is ambiguous.
        **params: method parameters passed to Captum (``n_steps``, ``nt_samples``, ``stdevs``,
            ``n_samples``, ``sliding_window_shapes``, ``strides``, ``perturbations_per_eval``).

    Returns:
        An :class:`Attributions` result; ``run.log_artifact(result)`` stores it.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> res = ds.explain.attribute(cnn, images[:16], method="grad_cam")  # doctest: +SKIP
        >>> run.log_artifact(res)  # doctest: +SKIP

    """
    check_model(model)
    if method not in METHODS:
        raise InvalidArgumentError(f"unknown attribution method {method!r}; choose from {METHODS}")
    device = model_device(model)
    x = as_tensor(inputs, device)
    if len(x) == 0:
        raise InvalidArgumentError("inputs are empty")
    kind = _input_kind(x, input_kind)
    layer_name, layer_module = _pick_layer(model, method, kind, layer)
    forward = _Forward(model)
    with eval_mode(model):
        with torch.no_grad():
            logits = forward(x).detach().float().cpu()
        probs = to_probabilities(logits)
        # One output column (binary, sigmoid): the explained output is that logit, i.e. class 1.
        single = logits.shape[1] == 1
        targets = np.ones(len(x), dtype=int) if single else _targets(target, probs, len(x))
        if targets.min() < 0 or targets.max() >= probs.shape[1]:
            raise InvalidArgumentError(f"target {int(targets.max())} >= {probs.shape[1]} outputs")
        ctx = _captum.Context(kind, layer_module, _base(baselines, device), dict(params))
        t = torch.as_tensor(np.zeros_like(targets) if single else targets, device=device)
        if x.is_floating_point():  # Captum would set it and warn
            x = x.detach().clone().requires_grad_(True)
        attr, delta = _captum.DISPATCH[method](forward, x, t, ctx)
    if ctx.params:
        raise InvalidArgumentError(f"{method} does not take {sorted(ctx.params)}")
    return _build(
        method,
        kind,
        layer_name,
        x,
        attr,
        delta,
        probs,
        targets,
        labels,
        classes,
        feature_names,
        tokens,
        ctx.used,
    )


def _base(baselines: Any, device: torch.device) -> torch.Tensor | None:
    return None if baselines is None else as_tensor(baselines, device)


def _build(
    method,
    kind,
    layer,
    x,
    attr,
    delta,
    probs,
    targets,
    labels,
    classes,  # noqa: ANN001
    feature_names,
    tokens,
    used,
) -> Attributions:
    n = len(x)
    names = class_names(classes, probs.shape[1])
    lab = None if labels is None else as_labels(labels, n)
    signed = method in ("integrated_gradients", "gradient_shap", "occlusion")
    a = attr.detach().float().cpu().numpy()
    xs = x.detach().cpu().numpy()
    if kind == "tabular":
        feats = (
            list(feature_names)
            if feature_names is not None
            else [f"f{i}" for i in range(a.shape[1])]
        )
        if len(feats) != a.shape[1]:
            raise InvalidArgumentError(f"{len(feats)} feature names for {a.shape[1]} features")
    else:
        feats = None
    blobs: Blobs = {}
    samples = []
    for i in range(n):
        tgt = int(targets[i])
        s = {
            "index": i,
            "target": tgt,
            "predicted": int(probs[i].argmax()),
            "label": None if lab is None else int(lab[i]),
            "probability": round(float(probs[i, tgt]), 6),
            "delta": None if delta is None else clean(float(delta[i])),
        }
        s.update(_sample_extra(kind, i, xs[i], a[i], signed, blobs, tokens))
        samples.append(s)
    return Attributions(method, kind, samples, names, signed, layer, feats, used, blobs, raw=a)
