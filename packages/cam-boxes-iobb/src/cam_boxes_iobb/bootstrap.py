"""Patient-level (cluster) bootstrap intervals for any metric that keeps per-image records.

Images of one patient are not independent, so the resampling unit is the patient: a resample
draws as many patients as the split has, with replacement, and takes every image of each drawn
patient as often as the patient was drawn. A resample is therefore a vector of per-image
*multiplicities* ``w`` (``(N,)``; :func:`resample_weights` gives ``(R, N)`` for ``R``
resamples), and every count-based metric of this package is a ratio of weighted sums of its
per-image records (``metric.resampled(w)``), so a thousand resamples cost a few matrix products.

Convention:
    - Percentile intervals (Efron's percentile bootstrap, not BCa): the ``(1 - c) / 2`` and
      ``(1 + c) / 2`` quantiles of the resampled statistic, numpy's ``linear`` quantile method.
    - The point estimate is the statistic on the data as observed (every weight 1), not the
      mean of the resamples.
    - A resample in which the statistic is undefined (NaN: a class with no GT box or no positive
      image among the drawn patients) is left out of that statistic's quantiles, and counted in
      ``Intervals.undefined``; a statistic undefined in every resample has a NaN interval.
    - Paired comparisons (two maps, two models on the same images) use one set of resamples
      for both sides: pass a statistic that returns their difference.
    - Resamples are drawn by ``numpy.random.default_rng(seed)``, so intervals are reproducible.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95


def resample_weights(
    groups: Sequence[Any] | np.ndarray, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0
) -> np.ndarray:
    """``(R, N)`` multiplicity of each of ``N`` items in ``R`` group-level resamples.

    Args:
        groups: the group (patient) of each item, any hashable values.
        n_resamples: ``R``.
        seed: seeds ``numpy.random.default_rng``.

    Examples:
        >>> w = resample_weights(["a", "a", "b"], n_resamples=4, seed=0)
        >>> w.shape, bool((w[:, 0] == w[:, 1]).all())  # a patient's images move together
        ((4, 3), True)
    """
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"Expected `n_resamples` to be a positive int, got {n_resamples!r}.")
    keys = np.asarray([str(g) for g in groups])
    if keys.ndim != 1 or keys.size == 0:
        raise ValueError(f"Expected a non-empty 1-D sequence of `groups`, got {len(keys)} items.")
    _, inverse = np.unique(keys, return_inverse=True)
    n_groups = int(inverse.max()) + 1
    draws = np.random.default_rng(seed).integers(n_groups, size=(n_resamples, n_groups))
    counts = np.zeros((n_resamples, n_groups), dtype=np.float64)
    np.add.at(counts, (np.arange(n_resamples)[:, None], draws), 1.0)
    return counts[:, inverse]


@dataclass(frozen=True)
class Intervals:
    """Point estimates and percentile intervals, arrays of the statistic's shape.

    Attributes:
        estimate: the statistic on the observed data.
        low, high: the interval's bounds.
        undefined: how many resamples gave NaN, per entry.
        confidence: e.g. 0.95.
        resamples: ``R``.
    """

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    undefined: np.ndarray
    confidence: float
    resamples: int

    def excludes_zero(self) -> np.ndarray:
        """Where the interval lies wholly above or below 0 (a difference measurable here)."""
        with np.errstate(invalid="ignore"):
            return (self.low > 0) | (self.high < 0)

    def entry(self, index: Any = ()) -> dict[str, Any]:
        """One entry as a JSON-ready dict: ``estimate``, ``low``, ``high``, ``confidence``,
        ``resamples`` (NaN becomes ``None``)."""

        def number(array: np.ndarray) -> float | None:
            value = float(np.asarray(array)[index])
            return None if math.isnan(value) else value

        return {
            "estimate": number(self.estimate),
            "low": number(self.low),
            "high": number(self.high),
            "confidence": self.confidence,
            "resamples": self.resamples - int(np.asarray(self.undefined)[index]),
        }


def bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    groups: Sequence[Any] | np.ndarray,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Intervals:
    """Percentile intervals of ``statistic`` under a group-level (patient) bootstrap.

    Args:
        statistic: maps per-item weights ``(R, N)`` to values ``(R, ...)``, e.g.
            ``lambda w: metric.resampled(w)["accuracy"][:, -1, 0]``. It is called once with
            the observed data (all weights 1) and once with all resamples.
        groups: the group (patient) of each of the ``N`` items, in the statistic's item order.
        n_resamples: resamples (at least 1,000 for 95 % intervals).
        confidence: the interval's coverage, in ``(0, 1)``.
        seed: the resamples' seed.

    Examples:
        >>> hits = np.array([1, 0, 1, 1, 0, 1, 1, 1], float)  # one image per patient
        >>> result = bootstrap(lambda w: w @ hits / w.sum(axis=1), groups=range(8), seed=0)
        >>> float(result.estimate), bool(result.low < 0.75 < result.high)
        (0.75, True)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"Expected `confidence` in (0, 1), got {confidence!r}.")
    n_items = len(groups)
    observed = np.asarray(statistic(np.ones((1, n_items))), dtype=np.float64)[0]
    samples = np.asarray(statistic(resample_weights(groups, n_resamples, seed)), dtype=np.float64)
    if samples.shape[0] != n_resamples or samples.shape[1:] != observed.shape:
        raise ValueError(
            f"Expected `statistic` to return shape (R, ...) = ({n_resamples}, "
            f"{', '.join(map(str, observed.shape))}), got {samples.shape}."
        )
    tail = (1 - confidence) / 2
    undefined = np.isnan(samples).sum(axis=0)
    with warnings.catch_warnings():  # an all-NaN entry gets a NaN interval, as documented
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        low, high = np.nanquantile(samples, [tail, 1 - tail], axis=0)
    return Intervals(observed, low, high, undefined, float(confidence), n_resamples)
