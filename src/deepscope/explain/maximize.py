"""Activation maximisation: synthesise inputs that excite a unit or channel.

Follows the feature-visualisation recipe of Olah, Mordvintsev & Schubert, "Feature
Visualization" (Distill, 2017) and the lucid reference code: the image is parameterised in a
scaled Fourier basis (energy ~ 1/frequency, which favours natural low-frequency images) and, for
RGB, in a decorrelated colour space; every optimisation step sees a randomly jittered, scaled and
slightly rotated copy, so the optimiser cannot win with high-frequency adversarial patterns. All
channels of a layer are optimised together as one batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepscope.errors import InvalidArgumentError
from deepscope.explain._model import eval_mode, model_device, resolve_layer
from deepscope.explain.artifacts import (
    PNG,
    Blobs,
    ExplainResult,
    clean,
    encode_png,
    sprite,
    to_display,
)

PARAMETERIZATIONS = ("fourier", "pixel")

# lucid's colour correlation (square root of the ImageNet colour covariance, SVD form).
_COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
_COLOR_SQRT = _COLOR_SQRT / _COLOR_SQRT.norm(dim=0).max()


@dataclass
class Maximization(ExplainResult):
    """Synthesised inputs, one per channel, with the activation they reach.

    Example:
        >>> mx = ds.explain.maximize(cnn, "conv2", input_shape=(1, 8, 8))  # doctest: +SKIP
        >>> mx.final_activation / mx.start_activation  # doctest: +SKIP

    """

    kind = "maximization"
    layer: str
    channels: list[int]
    parameterization: str
    decorrelate: bool
    steps: int
    input_shape: list[int]
    start_activation: np.ndarray
    final_activation: np.ndarray
    images: np.ndarray | None = field(default=None, repr=False)
    blobs: Blobs = field(default_factory=dict)

    def _data(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "channels": self.channels,
            "parameterization": self.parameterization,
            "decorrelate": self.decorrelate,
            "steps": self.steps,
            "input_shape": self.input_shape,
            "start_activation": clean(self.start_activation),
            "final_activation": clean(self.final_activation),
            "images": [f"channel_{c}" for c in self.channels],
            "grid": "grid",
        }

    @classmethod
    def _from_data(cls, data: dict[str, Any], blobs: Blobs) -> Maximization:
        return cls(
            layer=data["layer"],
            channels=list(data["channels"]),
            parameterization=data["parameterization"],
            decorrelate=bool(data["decorrelate"]),
            steps=int(data["steps"]),
            input_shape=list(data["input_shape"]),
            start_activation=np.asarray(data["start_activation"], dtype=float),
            final_activation=np.asarray(data["final_activation"], dtype=float),
            blobs=blobs,
        )


class _Image(nn.Module):
    """A batch of images parameterised in pixel or scaled-Fourier space, squashed to a range."""

    def __init__(
        self,
        n: int,
        shape: Sequence[int],
        param: str,
        decorrelate: bool,
        value_range: tuple[float, float],
        gen: torch.Generator,
    ):
        super().__init__()
        self.c, self.h, self.w = shape
        self.param, self.lo, self.hi = param, *value_range
        self.decorrelate = decorrelate and self.c == 3
        if param == "fourier":
            fy = torch.fft.fftfreq(self.h)[:, None]
            fx = torch.fft.rfftfreq(self.w)[None, :]
            freqs = torch.sqrt(fx * fx + fy * fy)
            scale = 1.0 / torch.clamp(freqs, min=1.0 / max(self.h, self.w))
            self.register_buffer("scale", scale * math.sqrt(self.h * self.w))
            spec_shape = (n, self.c, self.h, self.w // 2 + 1, 2)
            self.spectrum = nn.Parameter(torch.randn(spec_shape, generator=gen) * 0.01)
        else:
            self.pixels = nn.Parameter(
                torch.randn((n, self.c, self.h, self.w), generator=gen) * 0.01
            )

    def forward(self) -> torch.Tensor:
        if self.param == "fourier":
            spec = torch.view_as_complex(self.spectrum) * self.scale
            img = torch.fft.irfftn(spec, s=(self.h, self.w), norm="ortho") / 4.0
        else:
            img = self.pixels
        if self.decorrelate:
            img = torch.einsum("nchw,dc->ndhw", img, _COLOR_SQRT.to(img.device))
        return self.lo + (self.hi - self.lo) * torch.sigmoid(img)


def _transform(
    img: torch.Tensor, gen: torch.Generator, jitter: float, scale: float, rotate: float
) -> torch.Tensor:
    """One random jitter + scale + rotation shared by the batch (reflection padding)."""
    r = torch.rand(4, generator=gen) * 2 - 1
    s = 1.0 + scale * float(r[0])
    a = math.radians(rotate * float(r[1]))
    tx, ty = jitter * float(r[2]), jitter * float(r[3])
    theta = torch.tensor(
        [[math.cos(a) / s, -math.sin(a) / s, tx], [math.sin(a) / s, math.cos(a) / s, ty]]
    )
    grid = F.affine_grid(theta.expand(len(img), 2, 3).to(img), list(img.shape), align_corners=False)
    return F.grid_sample(img, grid, padding_mode="reflection", align_corners=False)


def _activation(
    model: nn.Module, module: nn.Module, x: torch.Tensor, channels: torch.Tensor
) -> torch.Tensor:
    """Mean activation of ``channels[i]`` (conv: over positions) for image ``i``."""
    store: list[torch.Tensor] = []
    handle = module.register_forward_hook(
        lambda _m, _i, out: store.append(out[0] if isinstance(out, tuple) else out)
    )
    try:
        model(x)
    finally:
        handle.remove()
    out = store[0]
    picked = out[torch.arange(len(x)), channels]
    return picked.reshape(len(x), -1).mean(dim=1)


def maximize(
    model: nn.Module,
    layer: str,
    channel: int | Sequence[int] | None = None,
    *,
    input_shape: Sequence[int],
    steps: int = 256,
    lr: float = 0.05,
    parameterization: str = "fourier",
    decorrelate: bool = True,
    value_range: tuple[float, float] = (0.0, 1.0),
    jitter: float = 0.1,
    scale: float = 0.1,
    rotate: float = 5.0,
    random_state: int = 0,
) -> Maximization:
    """Optimise inputs to maximise the mean activation of ``layer``'s channel(s).

    Args:
        model: a ``torch.nn.Module`` (its weights are not changed).
        layer: module name.
        channel: one channel/unit, several, or None for all of the layer's.
        input_shape: ``(C, H, W)`` of one model input.
        steps: Adam steps.
        lr: Adam learning rate.
        parameterization: ``fourier`` (scaled Fourier basis) or ``pixel``.
        decorrelate: decorrelated colour space for 3-channel inputs.
        value_range: input range the model expects (e.g. ``(0, 16)`` for raw digits).
        jitter: random translation (share of the half-image).
        scale: random zoom (+- share).
        rotate: random rotation (+- degrees).
        random_state: seed of the starting noise and the transforms.

    Returns:
        A :class:`Maximization` with the images, starting and final activations.

    Example:
        >>> import deepscope as ds  # doctest: +SKIP
        >>> mx = ds.explain.maximize(cnn, "conv2", input_shape=(1, 8, 8))  # doctest: +SKIP
        >>> run.log_artifact(mx)  # doctest: +SKIP

    """
    if parameterization not in PARAMETERIZATIONS:
        raise InvalidArgumentError(f"parameterization must be one of {PARAMETERIZATIONS}")
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise InvalidArgumentError(f"input_shape must be (C, H, W), got {tuple(input_shape)}")
    if steps < 1:
        raise InvalidArgumentError(f"steps must be >= 1, got {steps}")
    module = resolve_layer(model, layer)
    device = model_device(model)
    gen = torch.Generator().manual_seed(random_state)
    channels = _channels(model, module, channel, input_shape, device)
    ch = torch.as_tensor(channels, device=device)
    image = _Image(len(channels), input_shape, parameterization, decorrelate, value_range, gen).to(
        device
    )
    opt = torch.optim.Adam(image.parameters(), lr=lr)
    requires = [p.requires_grad for p in model.parameters()]
    with eval_mode(model):
        try:
            for p in model.parameters():
                p.requires_grad_(False)
            with torch.no_grad():
                start = _activation(model, module, image(), ch)
            for _ in range(steps):
                opt.zero_grad()
                x = _transform(image(), gen, jitter, scale, rotate)
                (-_activation(model, module, x, ch).sum()).backward()
                opt.step()
            with torch.no_grad():
                final_img = image()
                final = _activation(model, module, final_img, ch)
        finally:
            for p, r in zip(model.parameters(), requires, strict=True):
                p.requires_grad_(r)
    return _result(
        layer,
        channels,
        parameterization,
        decorrelate,
        steps,
        input_shape,
        start,
        final,
        final_img.cpu().numpy(),
    )


def _channels(
    model: nn.Module, module: nn.Module, channel: Any, shape: Sequence[int], device: torch.device
) -> list[int]:
    """The requested channels, checked against the layer's real output size."""
    with torch.no_grad(), eval_mode(model):
        out = []
        handle = module.register_forward_hook(
            lambda _m, _i, o: out.append(o[0] if isinstance(o, tuple) else o)
        )
        try:
            model(torch.zeros((1, *shape), device=device))
        finally:
            handle.remove()
    if not out:
        raise InvalidArgumentError("the layer was not called in the model's forward pass")
    n = out[0].shape[1]
    chans = (
        list(range(n))
        if channel is None
        else [int(channel)]
        if np.isscalar(channel)
        else [int(c) for c in channel]
    )
    bad = [c for c in chans if not 0 <= c < n]
    if not chans or bad:
        raise InvalidArgumentError(f"channels must lie in 0..{n - 1}, got {bad or 'none'}")
    return chans


def _result(
    layer, channels, param, decorrelate, steps, shape, start, final, images
) -> Maximization:  # noqa: ANN001
    blobs: Blobs = {}
    shown = [to_display(img) for img in images]
    for c, img in zip(channels, shown, strict=True):
        blobs[f"channel_{c}"] = (PNG, encode_png(img))
    sheet, _ = sprite(
        [np.pad(s, [(1, 1), (1, 1)] + [(0, 0)] * (s.ndim - 2), constant_values=1.0) for s in shown]
    )
    blobs["grid"] = (PNG, encode_png(sheet))
    return Maximization(
        layer,
        channels,
        param,
        decorrelate,
        steps,
        list(shape),
        start.detach().cpu().numpy().astype(float),
        final.detach().cpu().numpy().astype(float),
        images,
        blobs,
    )
