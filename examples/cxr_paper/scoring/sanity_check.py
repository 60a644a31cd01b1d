"""The model-randomisation sanity check (Adebayo et al. 2018, "Sanity checks for saliency maps"):
re-initialise the classifier's layers — cascading from the top (the output) down, or one at a
time (independent) — and measure how alike each map stays to the trained model's: the Spearman
rank correlation of the two maps (their absolute values, as the paper ranks them) and their SSIM
(kornia's, on maps min-max normalised). A map that stays alike once the weights are random does
not depend on what the model learnt (an edge detector would pass any overlap score); the check
passes when, with every listed layer randomised, the mean rank correlation is below a stated
threshold. A constant map has no ranks: its similarity is undefined and the check fails.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from kornia.metrics import ssim
from scipy.stats import spearmanr
from torch import nn

#: The check passes below this mean rank correlation with every listed layer randomised.
PASS_BELOW = 0.5


def randomised(model: nn.Module, layers: Sequence[str], seed: int = 0) -> nn.Module:
    """A copy of ``model`` with the named submodules' parameters re-initialised (each module's
    own ``reset_parameters``, seeded).

    Args:
        model: The trained model (left unchanged).
        layers: Names of its submodules (``model.get_submodule`` paths).
        seed: The re-initialisation's seed.

    Returns:
        The copy.
    """
    copied = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in layers:
            for module in copied.get_submodule(name).modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
    return copied


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rank correlation of two maps' absolute values; NaN if either is constant.

    Args:
        first: A map, any shape.
        second: A map of the same size.

    Returns:
        The correlation in ``[-1, 1]``, or NaN.

    Examples:
        >>> rank_correlation(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[2.0, 3.0], [5.0, 9.0]]))
        1.0
        >>> math.isnan(rank_correlation(np.ones((2, 2)), np.arange(4.0).reshape(2, 2)))
        True
    """
    a, b = np.abs(np.asarray(first, float)).ravel(), np.abs(np.asarray(second, float)).ravel()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def structural_similarity(first: np.ndarray, second: np.ndarray, window: int = 5) -> float:
    """SSIM (kornia) of two maps, each min-max normalised; NaN if either is constant.

    Args:
        first: A map ``(h, w)``.
        second: A map ``(h, w)``.
        window: The SSIM window's side (odd).

    Returns:
        The mean SSIM, or NaN.

    Examples:
        >>> round(structural_similarity(np.eye(8), np.eye(8)), 6)
        1.0
    """
    maps = []
    for value in (first, second):
        array = np.asarray(value, dtype=np.float32)
        if np.ptp(array) == 0:
            return math.nan
        maps.append(torch.from_numpy((array - array.min()) / np.ptp(array))[None, None])
    return float(ssim(maps[0], maps[1], window).mean())


@dataclass(frozen=True)
class SanityCheck:
    """How alike a map kind's maps stay as layers are randomised.

    Attributes:
        steps: The layers randomised at each step (cascading: all those before it too).
        rank_correlation: Per step, the mean rank correlation with the trained model's maps
            (NaN where undefined).
        ssim: Per step, the mean SSIM.
        passes: Whether the last step's mean rank correlation is below :data:`PASS_BELOW`.
    """

    steps: tuple[str, ...]
    rank_correlation: tuple[float, ...]
    ssim: tuple[float, ...]
    passes: bool


def sanity_check(
    maps_of: Callable[[nn.Module], np.ndarray],
    model: nn.Module,
    layers: Sequence[str],
    cascading: bool = True,
    seed: int = 0,
) -> SanityCheck:
    """Cascading (or independent) randomisation of ``layers``, given top (output) first.

    Args:
        maps_of: A model -> its maps of the images checked, float array ``(N, h, w)``.
        model: The trained model.
        layers: Its submodules, from the output down.
        cascading: Randomise every layer up to each step (else only that step's).
        seed: The re-initialisation's seed.

    Returns:
        The similarities per step and the verdict.
    """
    trained = maps_of(model)

    def mean(function: Callable[[np.ndarray, np.ndarray], float], maps: np.ndarray) -> float:
        values = [function(a, b) for a, b in zip(trained, maps, strict=True)]
        return math.nan if any(math.isnan(v) for v in values) else float(np.mean(values))

    correlations, similarities = [], []
    for step in range(len(layers)):
        chosen = layers[: step + 1] if cascading else layers[step : step + 1]
        maps = maps_of(randomised(model, chosen, seed))
        correlations.append(mean(rank_correlation, maps))
        similarities.append(mean(structural_similarity, maps))
    last = correlations[-1] if correlations else math.nan
    return SanityCheck(
        tuple(layers), tuple(correlations), tuple(similarities), bool(last < PASS_BELOW)
    )
