"""ROAD (Rong et al. 2022, "A consistent and efficient evaluation strategy for attribution
methods", ICML): remove a share of the pixels in order of the map — most relevant first (MoRF) or
least relevant first (LeRF) — and fill them by noisy linear imputation, so that the model cannot
read the removal's shape; the change of the class's score says how much the map's pixels
mattered (MoRF: a faithful map's drop is large; LeRF: small).

Conventions as pytorch-grad-cam's ``metrics.road`` (the paper's imputation, from
tleemann/road_evaluation), so that the two give one number: at percentile ``p`` a pixel is kept
where the map is below ``np.percentile(map, p)`` (MoRF) or where ``1 - map`` is (LeRF; maps in
``[0, 1]``), so ``100 - p`` % are removed, and more where values tie at the threshold; a removed
pixel is the weighted mean of its eight neighbours (1/6 the sides, 1/12 the corners; a neighbour
outside the image drops out of the weights), all removed pixels solved together, plus Gaussian
noise of sd ``noise`` (pytorch-grad-cam: 0.01, unseeded; here seeded); the score is whatever
``score`` returns (pytorch-grad-cam's ``ClassifierOutputTarget``: the class's logit), reported as
the change from the unperturbed image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

#: The neighbours' weights of the imputation: ``(row offset, column offset, weight)``.
NEIGHBOURS = (
    (-1, -1, 1 / 12), (-1, 0, 1 / 6), (-1, 1, 1 / 12),
    (0, -1, 1 / 6), (0, 1, 1 / 6),
    (1, -1, 1 / 12), (1, 0, 1 / 6), (1, 1, 1 / 12),
)  # fmt: skip
PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


def kept_pixels(saliency: np.ndarray, percentile: float, order: str) -> np.ndarray:
    """Which pixels stay at ``percentile``: bool ``(H, W)``.

    Args:
        saliency: Float array ``(H, W)`` in ``[0, 1]``.
        percentile: ``p`` in ``[0, 100]``: ``100 - p`` % of the pixels are removed.
        order: ``"morf"`` (most relevant removed first) or ``"lerf"``.

    Returns:
        True where the pixel is kept.

    Examples:
        >>> kept_pixels(np.array([[0.1, 0.9], [0.5, 0.2]]), 50, "morf").tolist()
        [[True, False], [False, True]]
    """
    if order not in ("morf", "lerf"):
        raise ValueError(f"order {order!r}: expected 'morf' or 'lerf'.")
    values = saliency if order == "morf" else 1 - saliency
    return values < np.percentile(values, percentile)


def impute(
    image: np.ndarray, kept: np.ndarray, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """The image with its removed pixels filled by noisy linear imputation.

    Args:
        image: Float array ``(C, H, W)``.
        kept: Bool array ``(H, W)``: the pixels that stay.
        noise: The noise's sd, added to each filled value.
        rng: The noise's generator.

    Returns:
        Float32 array ``(C, H, W)``.
    """
    channels, height, width = image.shape
    missing = np.flatnonzero(~kept.reshape(-1))
    if missing.size == 0:
        return image.astype(np.float32)
    variable = np.full(height * width, -1)
    variable[missing] = np.arange(missing.size)
    rows, cols = np.divmod(missing, width)
    flat = image.reshape(channels, -1).astype(np.float64)
    total = np.zeros(missing.size)
    entries_i, entries_j, entries_v = [], [], []
    right = np.zeros((missing.size, channels))
    for dy, dx, weight in NEIGHBOURS:
        y, x = rows + dy, cols + dx
        inside = (y >= 0) & (y < height) & (x >= 0) & (x < width)
        total += weight * inside
        neighbour = (y * width + x)[inside]
        unknown = variable[neighbour]
        equation = np.flatnonzero(inside)
        solved = unknown >= 0
        entries_i.append(equation[solved])
        entries_j.append(unknown[solved])
        entries_v.append(np.full(int(solved.sum()), weight))
        right[equation[~solved]] -= weight * flat[:, neighbour[~solved]].T
    entries_i.append(np.arange(missing.size))
    entries_j.append(np.arange(missing.size))
    entries_v.append(-total)
    system = coo_matrix(
        (np.concatenate(entries_v), (np.concatenate(entries_i), np.concatenate(entries_j))),
        shape=(missing.size, missing.size),
    ).tocsc()
    solution = np.asarray(spsolve(system, right)).reshape(missing.size, channels)
    filled = flat.copy()
    filled[:, missing] = solution.T + noise * rng.standard_normal(solution.T.shape)
    return filled.reshape(channels, height, width).astype(np.float32)


def road(
    score: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    saliency: torch.Tensor,
    pair_image: torch.Tensor,
    pair_class: torch.Tensor,
    order: str = "morf",
    percentiles: Sequence[float] = PERCENTILES,
    noise: float = 0.01,
    seed: int = 0,
) -> torch.Tensor:
    """The change of each pair's class score after ROAD's removal at each percentile.

    Args:
        score: ``(N, C, H, W)`` images -> ``(N, K)`` scores (logits, to match pytorch-grad-cam).
        images: Float tensor ``(B, C, H, W)``.
        saliency: Float tensor ``(P, H, W)`` in ``[0, 1]``: each pair's map at the input size.
        pair_image: Long tensor ``(P,)``: each pair's image.
        pair_class: Long tensor ``(P,)``: each pair's class.
        order: ``"morf"`` or ``"lerf"``.
        percentiles: The ``p`` of each removal.
        noise: The imputation noise's sd (0: none).
        seed: The noise's seed.

    Returns:
        Float tensor ``(P, len(percentiles))``: score after minus score before.
    """
    rng = np.random.default_rng(seed)
    pairs = len(pair_image)
    perturbed = [
        impute(
            images[pair_image[p]].cpu().numpy(),
            kept_pixels(saliency[p].cpu().numpy(), percentile, order),
            noise,
            rng,
        )
        for p in range(pairs)
        for percentile in percentiles
    ]
    with torch.no_grad():
        before = score(images)[pair_image, pair_class]
        batch = torch.from_numpy(np.stack(perturbed)).to(images.device, images.dtype)
        after = score(batch).view(pairs, len(percentiles), -1)
    rows = torch.arange(pairs, device=images.device)
    return after[rows, :, pair_class] - before[:, None]
