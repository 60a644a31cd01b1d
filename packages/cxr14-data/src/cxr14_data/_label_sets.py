"""Label sets drawn from NIH's own combinations, tilted to chosen class shares.

NIH's 801 label combinations (:func:`~cxr14_data.nih_statistics.nih_label_sets`) are reweighted
by an exponential tilt, ``p'(s) ∝ p(s) · Π_{c ∈ s} λ_c · μ^[|s| ≥ 2]``: one factor per class and
one for sets of two or more findings, fitted (cyclic iterative scaling: each update sets one
odds exactly) so that every class's share of images and the share of images with several
findings take the requested values. Only combinations NIH has are drawn, and the tilt keeps
NIH's co-occurrence structure: the ratio of the probabilities of two combinations of the same
size changes only by their classes' factors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import numpy as np

from cxr14_data.labels import CLASSES
from cxr14_data.nih_statistics import nih_label_sets


def _design() -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
    sets = nih_label_sets()
    members = np.array([[name in labels for name in CLASSES] for labels, _ in sets], float)
    counts = np.array([count for _, count in sets], float)
    return members, counts / counts.sum(), [labels for labels, _ in sets]


@functools.cache
def _fit(
    shares: tuple[float, ...], multi_share: float, iterations: int = 400
) -> tuple[np.ndarray, list[tuple[str, ...]]]:
    members, base, combos = _design()
    several = (members.sum(axis=1) >= 2).astype(float)
    features = np.column_stack([members, several])
    targets = np.array([*shares, multi_share])
    log_factors = np.zeros(features.shape[1])

    def probabilities() -> np.ndarray:
        weights = base * np.exp(features @ log_factors)
        return weights / weights.sum()

    for _ in range(iterations):
        for k, target in enumerate(targets):
            current = probabilities() @ features[:, k]
            log_factors[k] += np.log(target / current * (1 - current) / (1 - target))
    return probabilities(), combos


class LabelSetSampler:
    """Draws label sets from NIH's combinations with given class shares and multi-finding share.

    Args:
        shares: share of images showing each class (every one of :data:`CLASSES`, in ``(0, 1)``).
        multi_share: share of images with two or more findings (NIH: 0.185).

    Examples:
        >>> sampler = LabelSetSampler({name: 0.1 for name in CLASSES}, multi_share=0.185)
        >>> round(float(sampler.class_shares()["Nodule"]), 6), round(sampler.multi_share(), 6)
        (0.1, 0.185)
        >>> sampler.draw(np.random.default_rng(0)) in {labels for labels in sampler.combinations}
        True
    """

    def __init__(self, shares: Mapping[str, float], multi_share: float) -> None:
        if sorted(shares) != sorted(CLASSES):
            raise ValueError(f"Expected `shares` for exactly {CLASSES}, got {sorted(shares)}.")
        values = tuple(float(shares[name]) for name in CLASSES)
        if not all(0 < v < 1 for v in (*values, multi_share)):
            raise ValueError(
                f"Expected every share in (0, 1), got {dict(shares)} and {multi_share=}."
            )
        self.probabilities, self.combinations = _fit(values, float(multi_share))

    def draw(self, rng: np.random.Generator) -> tuple[str, ...]:
        """One image's findings (``()``: No Finding), in :data:`CLASSES` order."""
        return self.combinations[int(rng.choice(len(self.combinations), p=self.probabilities))]

    def _share(self, keep: Callable[[tuple[str, ...]], bool]) -> float:
        return float(
            sum(p for p, s in zip(self.probabilities, self.combinations, strict=True) if keep(s))
        )

    def class_shares(self) -> dict[str, float]:
        """Each class's share of images under the fitted distribution."""
        return {name: self._share(lambda labels, n=name: n in labels) for name in CLASSES}

    def multi_share(self) -> float:
        """Share of images with two or more findings under the fitted distribution."""
        return self._share(lambda labels: len(labels) > 1)
