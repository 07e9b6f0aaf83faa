from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.errors import InvalidArgumentError
from deepscope.explain.maximize import _activation


@pytest.mark.parametrize("param", ["fourier", "pixel"])
def test_maximisation_raises_the_target_activation_far_above_noise(cnn, param):
    channels = list(range(16))
    before = [p.detach().clone() for p in cnn.parameters()]
    res = ds.explain.maximize(
        cnn, "conv2", channels, input_shape=(1, 8, 8), steps=96, parameterization=param, lr=0.1
    )
    assert res.kind == "maximization" and res.channels == channels
    # Reference: the same channels on uniform random noise in the input range.
    gen = torch.Generator().manual_seed(1)
    noise = torch.rand((16, 1, 8, 8), generator=gen)
    with torch.no_grad():
        on_noise = _activation(cnn, cnn.conv2, noise, torch.arange(16)).numpy()
    alive = on_noise > 1e-3  # dead channels (ReLU never fires) cannot be raised
    assert alive.sum() >= 4
    assert np.median(res.final_activation[alive] / on_noise[alive]) > 3
    assert np.all(res.final_activation[alive] > res.start_activation[alive])
    # The model is untouched: same weights, gradients still enabled.
    assert all(torch.equal(a, b) for a, b in zip(before, cnn.parameters(), strict=True))
    assert all(p.requires_grad for p in cnn.parameters())
    assert res.images.shape == (16, 1, 8, 8) and res.images.min() >= 0 and res.images.max() <= 1
    assert res.blobs["grid"][1][:4] == b"\x89PNG" and "channel_15" in res.blobs


def test_rgb_inputs_use_decorrelated_colour_and_linear_units():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14 * 14, 5))
    res = ds.explain.maximize(
        model, "3", channel=2, input_shape=(3, 16, 16), steps=40, value_range=(-1.0, 1.0)
    )
    assert res.channels == [2] and res.decorrelate
    assert res.images.shape == (1, 3, 16, 16)
    assert res.images.min() >= -1 and res.images.max() <= 1
    assert res.final_activation[0] > res.start_activation[0] + 1.0
    assert res.blob_image("channel_2").shape == (16, 16, 3)


def test_bad_arguments(cnn):
    cases = [
        ({"layer": "conv2", "channel": 99}, "0..15"),
        ({"layer": "conv9"}, "no layer"),
        ({"layer": "conv2", "parameterization": "cppn"}, "parameterization"),
        ({"layer": "conv2", "steps": 0}, "steps"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidArgumentError, match=message):
            ds.explain.maximize(cnn, input_shape=(1, 8, 8), **kwargs)
    with pytest.raises(InvalidArgumentError, match="input_shape"):
        ds.explain.maximize(cnn, "conv2", input_shape=(8, 8))
