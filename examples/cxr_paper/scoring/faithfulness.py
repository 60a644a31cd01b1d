"""Deletion and insertion (Petsiuk et al. 2018, "RISE", section 4.1): does a map point at what
the model uses? The pixels of an image are removed (deletion) or revealed (insertion) in order of
the map's value, most relevant first, ``steps`` equal fractions at a time, and the class's
probability is read after each; the area under that curve over the fraction changed (trapezoid,
0 to 1) is the score: low for deletion and high for insertion mean a faithful map.

A removed pixel takes the baseline's value: ``"blur"`` (the image blurred with a Gaussian,
σ = :data:`BLUR_SIGMA` of the input's side, RISE's choice for insertion) or ``"mean"`` (0 in the
normalised input: the normalisation's mean image). Ties in the map are broken by pixel index
(row-major), so a constant map removes pixels in reading order. All (image, class) pairs of a
batch share one forward pass per step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: The blur baseline's σ as a share of the input's side.
BLUR_SIGMA = 0.05
BASELINES = ("blur", "mean")


@dataclass(frozen=True)
class Curves:
    """Deletion and insertion of a batch of (image, class) pairs.

    Attributes:
        deletion: Float tensor ``(P, steps + 1)``: the class's probability with fraction
            ``k / steps`` of the pixels removed, most relevant first.
        insertion: Float tensor ``(P, steps + 1)``: with fraction ``k / steps`` revealed on
            the baseline.
    """

    deletion: torch.Tensor
    insertion: torch.Tensor

    @staticmethod
    def area(curve: torch.Tensor) -> torch.Tensor:
        """The area under curves ``(P, steps + 1)`` over ``[0, 1]`` (trapezoid): ``(P,)``.

        Examples:
            >>> Curves.area(torch.tensor([[1.0, 0.5, 0.0]])).tolist()
            [0.5]
        """
        steps = curve.shape[1] - 1
        return (curve.sum(dim=1) - (curve[:, 0] + curve[:, -1]) / 2) / steps

    @property
    def deletion_auc(self) -> torch.Tensor:
        """``(P,)``: lower is more faithful."""
        return self.area(self.deletion)

    @property
    def insertion_auc(self) -> torch.Tensor:
        """``(P,)``: higher is more faithful."""
        return self.area(self.insertion)


def baseline_of(images: torch.Tensor, kind: str) -> torch.Tensor:
    """The images every pixel is removed to.

    Args:
        images: Float tensor ``(B, C, H, W)``, normalised.
        kind: ``"blur"`` or ``"mean"``.

    Returns:
        Float tensor ``(B, C, H, W)``.

    Raises:
        ValueError: Another kind.
    """
    if kind == "mean":
        return torch.zeros_like(images)
    if kind != "blur":
        raise ValueError(f"baseline {kind!r}: expected one of {list(BASELINES)}.")
    sigma = BLUR_SIGMA * max(images.shape[-2:])
    radius = max(1, int(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    rows = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    padded = F.pad(images, (radius, radius, 0, 0), mode="replicate")
    blurred = F.conv2d(padded, rows, groups=channels)
    padded = F.pad(blurred, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(padded, rows.transpose(-1, -2), groups=channels)


def relevance_order(saliency: torch.Tensor) -> torch.Tensor:
    """Each pair's pixels, most relevant first (ties: lower index first).

    Args:
        saliency: Float tensor ``(P, H, W)``.

    Returns:
        Long tensor ``(P, H * W)`` of flat pixel indices.

    Examples:
        >>> relevance_order(torch.tensor([[[0.0, 2.0], [1.0, 2.0]]])).tolist()
        [[1, 3, 2, 0]]
    """
    # value descending, ties by index ascending: a stable sort of the negated values
    return torch.sort(-saliency.flatten(1), dim=1, stable=True).indices


def deletion_insertion(
    probability: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    saliency: torch.Tensor,
    pair_image: torch.Tensor,
    pair_class: torch.Tensor,
    steps: int = 16,
    baseline: str = "blur",
) -> Curves:
    """Deletion and insertion curves of ``P`` (image, class) pairs.

    Args:
        probability: ``(N, C, H, W)`` images -> ``(N, K)`` class probabilities.
        images: Float tensor ``(B, C, H, W)``, normalised as the model expects.
        saliency: Float tensor ``(P, H, W)``: each pair's map at the input's size.
        pair_image: Long tensor ``(P,)``: each pair's image in ``images``.
        pair_class: Long tensor ``(P,)``: each pair's class (column of ``probability``).
        steps: How many equal fractions the pixels are changed in.
        baseline: ``"blur"`` or ``"mean"``.

    Returns:
        The curves, ``steps + 1`` points each.

    Examples:
        >>> images = torch.zeros(1, 1, 2, 2); images[0, 0, 0, 0] = 4.0
        >>> brightness = lambda x: torch.sigmoid(x.sum(dim=(1, 2, 3)))[:, None]
        >>> saliency = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
        >>> curves = deletion_insertion(brightness, images, saliency, torch.tensor([0]),
        ...                             torch.tensor([0]), steps=4, baseline="mean")
        >>> [round(v, 3) for v in curves.deletion[0].tolist()]
        [0.982, 0.5, 0.5, 0.5, 0.5]
    """
    if steps < 1:
        raise ValueError(f"steps {steps}: expected at least 1.")
    pairs, height, width = saliency.shape
    if images.shape[-2:] != (height, width) or len(pair_image) != pairs != len(pair_class):
        raise ValueError(
            f"saliency {tuple(saliency.shape)} must be one (H, W) map per pair of images "
            f"{tuple(images.shape)}; pairs: {len(pair_image)} images, {len(pair_class)} classes."
        )
    source = images[pair_image]
    removed = baseline_of(images, baseline)[pair_image]
    order = relevance_order(saliency)
    rank = torch.empty_like(order).scatter_(
        1, order, torch.arange(order.shape[1], device=order.device).expand_as(order)
    )
    rank = rank.view(pairs, 1, height, width)
    rows = torch.arange(pairs, device=images.device)
    deletion, insertion = [], []
    for k in range(steps + 1):
        changed = rank < round(k * height * width / steps)  # the most relevant k / steps
        deleted, inserted = (
            torch.where(changed, removed, source),
            torch.where(changed, source, removed),
        )
        batch = torch.cat([deleted, inserted])
        probs = probability(batch)
        deletion.append(probs[:pairs][rows, pair_class])
        insertion.append(probs[pairs:][rows, pair_class])
    return Curves(torch.stack(deletion, dim=1), torch.stack(insertion, dim=1))
