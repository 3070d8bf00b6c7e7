"""Flow-matching loss, timestep sampling, highlight weighting."""

from __future__ import annotations

import math

import pytest
import torch

from hdr_mcp.training.losses import (
    FlowTimesteps,
    flow_matching_loss,
    highlight_weights,
    latent_luminance,
)


def test_highlight_weights_grow_per_stop_above_the_threshold() -> None:
    luminance = torch.tensor([0.1, 1.0, 4.0, 64.0])
    weights = highlight_weights(luminance, 2.0, threshold=1.0)
    assert weights.tolist() == pytest.approx([1.0, 1.0, 1.0 + 2 * 2, 1.0 + 2 * 6])


def test_highlight_weighting_weights_bright_pixels_more() -> None:
    target = torch.zeros(1, 4, 2, 2)
    luminance = torch.tensor([[[100.0, 0.1], [0.1, 0.1]]])  # one bright latent pixel
    bright_error = target.clone()
    bright_error[..., 0, 0] = 1.0
    dark_error = target.clone()
    dark_error[..., 1, 1] = 1.0
    sigmas = torch.tensor([0.5])
    weights = highlight_weights(luminance, 1.0, 1.0)

    def loss(prediction, w):
        return float(flow_matching_loss(prediction, target, sigmas=sigmas,
                                        weighting_scheme="logit_normal", pixel_weights=w))

    assert loss(bright_error, None) == pytest.approx(loss(dark_error, None)) == pytest.approx(0.25)
    w_bright = 1 + math.log2(100.0)
    assert loss(bright_error, weights) == pytest.approx(w_bright / (w_bright + 3))
    assert loss(dark_error, weights) == pytest.approx(1 / (w_bright + 3))
    assert loss(bright_error, weights) > 4 * loss(dark_error, weights)


def test_latent_luminance_averages_rec709_luminance_per_latent_pixel() -> None:
    target = torch.zeros(3, 8, 8)
    target[:, :4, :4] = torch.tensor([1.0, 2.0, 4.0]).view(3, 1, 1)
    grid = latent_luminance(target, (2, 2))
    expected = 0.2126 * 1 + 0.7152 * 2 + 0.0722 * 4  # BT.709 weights
    assert grid.flatten().tolist() == pytest.approx([expected, 0.0, 0.0, 0.0])
    video = torch.ones(3, 5, 8, 8)
    assert latent_luminance(video, (2, 2, 2)).shape == (2, 2, 2)


def test_timesteps_follow_the_static_shift_of_the_scheduler() -> None:
    sampler = FlowTimesteps({"_class_name": "UniPCMultistepScheduler", "flow_shift": 3.0},
                            weighting_scheme="none", logit_mean=0, logit_std=1, mode_scale=1.29)
    timesteps, sigmas = sampler.sample(64, torch.Generator().manual_seed(0))
    assert torch.allclose(timesteps, sigmas * 1000, atol=1e-3)
    # sigma = s t / (1 + (s - 1) t) of a uniform grid t: every sample is on the shifted grid
    grid = torch.linspace(1, 1 / 1000, 1000)
    shifted = 3 * grid / (1 + 2 * grid)
    assert all(torch.isclose(shifted, s, atol=1e-6).any() for s in sigmas)
    a = FlowTimesteps({"_class_name": "FlowMatchEulerDiscreteScheduler"},
                      weighting_scheme="logit_normal", logit_mean=0, logit_std=1,
                      mode_scale=1.29).sample(4, torch.Generator().manual_seed(1))
    b = FlowTimesteps({"_class_name": "FlowMatchEulerDiscreteScheduler"},
                      weighting_scheme="logit_normal", logit_mean=0, logit_std=1,
                      mode_scale=1.29).sample(4, torch.Generator().manual_seed(1))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
