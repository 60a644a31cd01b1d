"""ROAD held to pytorch-grad-cam's ``metrics.road`` on the same model, images and maps: its
``NoisyLinearImputer`` built with zero noise (its noise is unseeded), the target the class's
logit (``ClassifierOutputTarget``), MoRF and LeRF at every default percentile, maps with ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cxr_paper.scoring.road import PERCENTILES, impute, kept_pixels, road

road_module = pytest.importorskip("pytorch_grad_cam.metrics.road")
perturbation = pytest.importorskip("pytorch_grad_cam.metrics.perturbation_confidence")
targets_module = pytest.importorskip("pytorch_grad_cam.utils.model_targets")


class Linear(torch.nn.Module):
    def __init__(self, classes: int, pixels: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.weights = torch.randn(classes, pixels) / 10

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.weights.T


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # its np.percentile of a tensor
@pytest.mark.parametrize("order", ["morf", "lerf"])
def test_road_equals_pytorch_grad_cams(order):
    generator = torch.Generator().manual_seed(3)
    images = torch.randn(2, 3, 9, 9, generator=generator)
    saliency = torch.randint(0, 5, (2, 9, 9), generator=generator).float() / 4  # ties, in [0, 1]
    model = Linear(3, 3 * 81).eval()
    ours = road(
        model, images, saliency, torch.tensor([0, 1]), torch.tensor([2, 0]), order, noise=0.0
    )
    remove = (
        perturbation.RemoveMostRelevantFirst
        if order == "morf"
        else (perturbation.RemoveLeastRelevantFirst)
    )
    for p, (image, klass) in enumerate(((0, 2), (1, 0))):
        for k, percentile in enumerate(PERCENTILES):
            metric = perturbation.PerturbationConfidenceMetric(
                remove(percentile, road_module.NoisyLinearImputer(noise=0.0))
            )
            theirs = metric(
                images[image : image + 1],
                saliency[p : p + 1].numpy(),
                [targets_module.ClassifierOutputTarget(klass)],
                model,
            )
            assert float(ours[p, k]) == pytest.approx(float(theirs[0]), abs=1e-4)


def test_kept_pixels_remove_a_hundred_minus_p_percent_and_ties_too():
    saliency = np.arange(100, dtype=float).reshape(10, 10) / 99
    assert (~kept_pixels(saliency, 70, "morf")).sum() == 30
    assert (~kept_pixels(saliency, 70, "lerf")).sum() == 30
    ties = np.zeros((10, 10))
    ties[0, :5] = 1.0  # 95 % at a ReLU'd zero
    assert (~kept_pixels(ties, 50, "lerf")).sum() == 95  # the tie at the threshold is removed


def test_a_filled_pixel_is_its_neighbours_weighted_mean():
    image = np.arange(9, dtype=float).reshape(1, 3, 3)
    kept = np.ones((3, 3), bool)
    kept[1, 1] = False
    filled = impute(image, kept, 0.0, np.random.default_rng(0))
    sides, corners = (1 + 3 + 5 + 7) / 6, (0 + 2 + 6 + 8) / 12
    assert filled[0, 1, 1] == pytest.approx(sides + corners)
    assert np.array_equal(np.delete(filled.reshape(-1), 4), np.delete(image.reshape(-1), 4))
