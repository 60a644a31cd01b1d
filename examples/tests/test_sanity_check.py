"""The randomisation sanity check on the three cases that define it: a map read from the model's
weights (a vanilla gradient) fails to stay alike (the check passes), an edge detector that
ignores the weights stays alike (fails), a constant map has no ranks (fails); the rank
correlation held to a hand-ranked case and SSIM to kornia's identity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cxr_paper.scoring.sanity_check import randomised, rank_correlation, sanity_check

IMAGES = torch.randn(4, 1, 12, 12, generator=torch.Generator().manual_seed(0))


def _model() -> nn.Module:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(144, 1))
    y, x = torch.meshgrid(torch.arange(12.0), torch.arange(12.0), indexing="ij")
    with torch.no_grad():  # "trained": it weighs a blob at the centre
        model[1].weight.copy_(torch.exp(-((y - 6) ** 2 + (x - 6) ** 2) / 8).reshape(1, -1))
    return model


def _gradients(model: nn.Module) -> np.ndarray:
    """Vanilla gradient: the output's gradient with respect to each image's pixels."""
    images = IMAGES.clone().requires_grad_(True)
    model(images).sum().backward()
    return images.grad[:, 0].numpy()


def _edges(model: nn.Module) -> np.ndarray:
    image = IMAGES[:, 0].numpy()
    return np.abs(np.diff(image, axis=1, prepend=0)) + np.abs(np.diff(image, axis=2, prepend=0))


def test_a_map_of_the_weights_passes_an_edge_detector_and_a_constant_fail():
    layers = ["1"]
    weights = sanity_check(_gradients, _model(), layers)
    edges = sanity_check(_edges, _model(), layers)
    constant = sanity_check(lambda m: np.ones((4, 12, 12)), _model(), layers)
    assert weights.passes and weights.rank_correlation[-1] < 0.5
    assert not edges.passes and edges.rank_correlation == (1.0,) and edges.ssim[-1] > 0.99
    assert not constant.passes and all(math.isnan(v) for v in constant.rank_correlation)


def test_randomising_leaves_the_trained_model_and_the_other_layers_alone():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 1, 3))
    before = [p.clone() for p in model.parameters()]
    copied = randomised(model, ["2"], seed=3)
    assert torch.equal(copied[0].weight, model[0].weight)
    assert not torch.equal(copied[2].weight, model[2].weight)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert torch.equal(randomised(model, ["2"], seed=3)[2].weight, copied[2].weight)  # seeded


def test_rank_correlation_by_hand():
    # ranks of |a| 1, 2, 3, 4 and of |b| 2, 1, 3, 4: rho = 1 - 6 * 2 / (4 * 15) = 0.8
    a, b = np.array([[1.0, -2.0], [3.0, 4.0]]), np.array([[5.0, 1.0], [6.0, 7.0]])
    assert rank_correlation(a, b) == pytest.approx(0.8)
