"""One function per attribution method, each a thin call into Captum (the math stays there).

Every function takes ``(forward, x, target, ctx)`` and returns ``(attributions, delta)`` where
``attributions`` has the shape of ``x`` (tokens: ``N x L x E`` at the embedding layer; grad_cam:
``N x 1 x H x W`` upsampled to the input) and ``delta`` is the completeness error or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepscope.errors import InvalidArgumentError

# Elements of input processed per internal batch of integrated gradients. Captum's default
# (internal_batch_size=None) expands all n_steps x N inputs at once: memory grows with n_steps
# and the large batch falls out of the CPU caches. Measured here (bench/explain.py model,
# 32 x 3 x 32 x 32, 2 threads, medians of 5): internal batches of 160 examples 0.39 s, 800: 0.76 s,
# 1600 (Captum's default): 1.06 s. 2**19 input elements is ~170 such images per batch.
IG_ELEMENT_BUDGET = 2**19

METHODS = (
    "saliency",
    "integrated_gradients",
    "smoothgrad",
    "gradient_shap",
    "occlusion",
    "grad_cam",
)


@dataclass
class Context:
    """What a method needs besides the inputs: input kind, chosen layer and parameters."""

    input_kind: str
    layer: nn.Module | None = None
    baselines: torch.Tensor | None = None
    params: dict[str, Any] = field(default_factory=dict)
    used: dict[str, Any] = field(default_factory=dict)

    def param(self, name: str, default: Any) -> Any:
        value = self.params.pop(name, default)
        self.used[name] = value if isinstance(value, (int, float, str, list, tuple)) else str(value)
        return value


def _ig_batch(x: torch.Tensor, n_steps: int) -> int:
    per_sample = max(1, x[0].numel())
    return int(max(len(x), min(len(x) * n_steps, IG_ELEMENT_BUDGET // per_sample)))


def _baseline(x: torch.Tensor, ctx: Context) -> torch.Tensor:
    if ctx.baselines is not None:
        return ctx.baselines
    return torch.zeros_like(x)


def saliency(forward: Callable, x: torch.Tensor, target: Any, ctx: Context) -> tuple:
    if ctx.input_kind == "tokens":
        from captum.attr import LayerGradientXActivation

        method = LayerGradientXActivation(forward, ctx.layer, multiply_by_inputs=False)
        grads = method.attribute(x, target=target)
        return grads.abs(), None
    from captum.attr import Saliency

    return Saliency(forward).attribute(x, target=target, abs=True), None


def integrated_gradients(forward: Callable, x: torch.Tensor, target: Any, ctx: Context) -> tuple:
    n_steps = int(ctx.param("n_steps", 50))
    if ctx.input_kind == "tokens":
        from captum.attr import LayerIntegratedGradients

        method = LayerIntegratedGradients(forward, ctx.layer)
    else:
        from captum.attr import IntegratedGradients

        method = IntegratedGradients(forward)
    attr, delta = method.attribute(
        x,
        baselines=_baseline(x, ctx),
        target=target,
        n_steps=n_steps,
        internal_batch_size=_ig_batch(x, n_steps),
        return_convergence_delta=True,
    )
    return attr, delta


def smoothgrad(forward: Callable, x: torch.Tensor, target: Any, ctx: Context) -> tuple:
    if ctx.input_kind == "tokens":
        raise InvalidArgumentError("smoothgrad needs continuous inputs, not token ids")
    from captum.attr import NoiseTunnel, Saliency

    samples = int(ctx.param("nt_samples", 20))
    spread = float((x.max() - x.min()).item()) or 1.0
    stdev = float(ctx.param("stdevs", 0.15 * spread))
    nt = NoiseTunnel(Saliency(forward))
    attr = nt.attribute(
        x,
        nt_type="smoothgrad",
        nt_samples=samples,
        nt_samples_batch_size=samples,
        stdevs=stdev,
        target=target,
    )
    return attr, None


def gradient_shap(forward: Callable, x: torch.Tensor, target: Any, ctx: Context) -> tuple:
    if ctx.input_kind == "tokens":
        raise InvalidArgumentError("gradient_shap needs continuous inputs, not token ids")
    from captum.attr import GradientShap

    base = ctx.baselines
    if base is None:  # a distribution: the zero input and the batch mean
        base = torch.stack([torch.zeros_like(x[0]), x.mean(dim=0)])
    samples = int(ctx.param("n_samples", 20))
    stdev = float(ctx.param("stdevs", 0.0))
    attr, delta = GradientShap(forward).attribute(
        x,
        baselines=base,
        n_samples=samples,
        stdevs=stdev,
        target=target,
        return_convergence_delta=True,
    )
    return attr, delta.reshape(len(x), -1).mean(dim=1)


def occlusion(forward: Callable, x: torch.Tensor, target: Any, ctx: Context) -> tuple:
    from captum.attr import Occlusion

    if ctx.input_kind == "image":
        size = max(1, min(x.shape[-2:]) // 4)
        default_window = (*x.shape[1:-2], size, size)
        default_stride = (*x.shape[1:-2], max(1, size // 2), max(1, size // 2))
    else:
        default_window, default_stride = (1,), (1,)
    window = tuple(ctx.param("sliding_window_shapes", default_window))
    stride = tuple(ctx.param("strides", default_stride))
    base = ctx.baselines if ctx.baselines is not None else 0
    attr = Occlusion(forward).attribute(
        x,
        sliding_window_shapes=window,
        strides=stride,
        baselines=base,
        target=target,
        perturbations_per_eval=int(ctx.param("perturbations_per_eval", 16)),
    )
    return attr, None


def grad_cam(forward: Callable, x: torch.Tensor, target: Any, ctx: Context) -> tuple:
    if ctx.input_kind != "image":
        raise InvalidArgumentError("grad_cam needs image inputs and a conv layer")
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(forward, ctx.layer).attribute(x, target=target, relu_attributions=True)
    if cam.dim() == 4:
        cam = LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")
    return cam, None


DISPATCH: dict[str, Callable[..., tuple]] = {
    "saliency": saliency,
    "integrated_gradients": integrated_gradients,
    "smoothgrad": smoothgrad,
    "gradient_shap": gradient_shap,
    "occlusion": occlusion,
    "grad_cam": grad_cam,
}
