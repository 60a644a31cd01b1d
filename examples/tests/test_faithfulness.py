"""Deletion and insertion (RISE) held to a plain loop written here — one pair, one step, one
pixel at a time — on random images, maps with ties, both baselines; the blur baseline to kornia's
``gaussian_blur2d``."""

from __future__ import annotations

import pytest
import torch
from kornia.filters import gaussian_blur2d

from cxr_paper.scoring.faithfulness import BLUR_SIGMA, baseline_of, deletion_insertion


def _model(classes: int, channels: int, side: int):
    torch.manual_seed(0)
    weights = torch.randn(classes, channels * side * side)
    return lambda x: torch.sigmoid(x.flatten(1) @ weights.T / 10)


def _by_loop(probability, image, saliency, klass, steps, baseline):
    _, height, width = image.shape
    values = saliency.flatten().tolist()
    order = sorted(range(height * width), key=lambda i: (-values[i], i))
    deletion, insertion = [], []
    for k in range(steps + 1):
        n = round(k * height * width / steps)
        deleted, inserted = image.clone(), baseline.clone()
        for i in order[:n]:
            y, x = divmod(i, width)
            deleted[:, y, x] = baseline[:, y, x]
            inserted[:, y, x] = image[:, y, x]
        deletion.append(float(probability(deleted[None])[0, klass]))
        insertion.append(float(probability(inserted[None])[0, klass]))
    return deletion, insertion


@pytest.mark.parametrize("baseline", ["blur", "mean"])
@pytest.mark.parametrize("steps", [1, 5, 7])
def test_curves_equal_a_plain_loop(baseline, steps):
    generator = torch.Generator().manual_seed(steps)
    images = torch.randn(2, 3, 6, 6, generator=generator)
    saliency = torch.randint(0, 4, (3, 6, 6), generator=generator).float()  # ties on purpose
    pair_image, pair_class = torch.tensor([0, 1, 1]), torch.tensor([2, 0, 1])
    probability = _model(3, 3, 6)
    curves = deletion_insertion(
        probability, images, saliency, pair_image, pair_class, steps, baseline
    )
    removed = baseline_of(images, baseline)
    for p in range(3):
        deletion, insertion = _by_loop(
            probability,
            images[pair_image[p]],
            saliency[p],
            int(pair_class[p]),
            steps,
            removed[pair_image[p]],
        )
        assert curves.deletion[p].tolist() == pytest.approx(deletion, abs=1e-6)
        assert curves.insertion[p].tolist() == pytest.approx(insertion, abs=1e-6)
    assert curves.deletion_auc.shape == (3,) and torch.all(curves.insertion[:, -1] > 0)


def test_the_blur_baseline_is_a_gaussian_blur():
    images = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(1))
    sigma = BLUR_SIGMA * 40
    size = 2 * max(1, int(3 * sigma)) + 1
    expected = gaussian_blur2d(images, (size, size), (sigma, sigma), border_type="replicate")
    assert torch.allclose(baseline_of(images, "blur"), expected, atol=1e-5)


def test_a_faithful_map_deletes_faster_than_its_reverse():
    images = torch.zeros(1, 1, 4, 4)
    images[0, 0, 1, 2] = 5.0  # the one pixel the model uses
    probability = lambda x: torch.sigmoid(x.sum(dim=(1, 2, 3)) - 2.5)[:, None]  # noqa: E731
    right = torch.zeros(1, 4, 4)
    right[0, 1, 2] = 1.0
    curves = deletion_insertion(
        probability,
        images,
        torch.cat([right, 1 - right]),
        torch.tensor([0, 0]),
        torch.tensor([0, 0]),
        steps=4,
        baseline="mean",
    )
    assert curves.deletion_auc[0] < curves.deletion_auc[1]
    assert curves.insertion_auc[0] > curves.insertion_auc[1]


def test_bad_shapes_and_baselines_are_refused():
    with pytest.raises(ValueError, match="one .H, W. map per pair"):
        deletion_insertion(
            lambda x: x,
            torch.zeros(1, 1, 4, 4),
            torch.zeros(2, 3, 3),
            torch.tensor([0, 0]),
            torch.tensor([0, 0]),
        )
    with pytest.raises(ValueError, match="baseline 'noise'"):
        baseline_of(torch.zeros(1, 1, 4, 4), "noise")
