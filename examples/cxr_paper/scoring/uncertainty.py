"""95 % intervals for every number a run reports, and paired differences between maps and models.

The test split is resampled by **patient** (:func:`cam_boxes_iobb.bootstrap`): a resample draws
as many patients as the split has, with replacement, and weights each image by how often its
patient was drawn. AUROC, the localization accuracy and false positives (IoBB > 0.1),
MaxBoxAccV2, the pointing game and the calibrated accuracy are all recomputed under the same
resamples, so the difference of two maps or two models on the same images gets a *paired*
interval.

Convention:
    - Percentile intervals (not BCa) from ``bootstrap_resamples`` resamples (default 1,000),
      seeded by ``bootstrap_seed``; the point estimate is the number on the split as observed.
    - AUROC resamples the whole test split; the localization numbers its images with GT boxes.
      A class without positives (AUROC) or without GT boxes (localization) in a resample is left
      out of that resample's mean over classes, and out of its own interval (counted).
    - The calibrated threshold is chosen once on the calibration part; resamples rescore the
      held-out part at it (the threshold's own noise is not included).
    - Two models are paired on the images both scored (matched by image name). A difference is
      marked as measurable only where its interval excludes 0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cam_boxes_iobb import Intervals, bootstrap
from cxr_paper.scoring.auroc import weighted_auroc
from cxr_paper.scoring.comparisons import Comparison
from cxr_paper.scoring.headlines import HEADLINES
from cxr_paper.scoring.interval_types import (
    MEAN,
    Difference,
    Interval,
    KindDifference,
    ModelDifference,
    ModelIntervals,
)
from cxr_paper.scoring.map_kinds import OWN_CAM
from cxr_paper.scoring.outcome import TestResult
from cxr_paper.scoring.scores import LocalizationScores

Statistic = Callable[[np.ndarray], np.ndarray]


def auroc_statistic(labels: np.ndarray, probs: np.ndarray) -> Statistic:
    """Weights ``(R, N)`` -> per-class AUROC and their mean ``(R, K + 1)``.

    Args:
        labels: Int array ``(N, K)`` of 0/1 labels.
        probs: Float array ``(N, K)``.

    Returns:
        A function from weights ``(R, N)`` to float array ``(R, K + 1)``.
    """

    def statistic(weights: np.ndarray) -> np.ndarray:
        per_class = np.stack(
            [weighted_auroc(labels[:, k], probs[:, k], weights) for k in range(labels.shape[1])],
            axis=1,
        )
        with np.errstate(invalid="ignore"):
            defined = ~np.isnan(per_class)
            mean = np.where(
                defined.any(axis=1),
                np.nansum(per_class, axis=1) / np.maximum(defined.sum(axis=1), 1),
                np.nan,
            )
        return np.concatenate([per_class, mean[:, None]], axis=1)

    return statistic


def _by_name(intervals: Intervals, names: list[str], prefix: tuple = ()) -> dict[str, Interval]:
    return {name: Interval.of(intervals, (*prefix, k)) for k, name in enumerate(names)}


def model_intervals(test: TestResult, n_resamples: int, seed: int) -> ModelIntervals:
    """95 % intervals of one model's numbers, test patients resampled.

    Args:
        test: the model's test split (its labels, probabilities, patients and, per map kind,
            the scores with their per-image records).
        n_resamples: bootstrap resamples.
        seed: seed of the resamples.

    Returns:
        AUROC per class (and the mean), and per map kind each headline per box class (and the
        mean); a map kind without box images has none.
    """
    auroc = bootstrap(
        auroc_statistic(test.labels, test.probs), test.patients, n_resamples, seed=seed
    )
    box_names = [*test.task.box_classes, MEAN]
    localization = {}
    for kind, scores in test.scores.items():
        if not scores.patients:
            continue
        intervals = bootstrap(scores.headline, scores.patients, n_resamples, seed=seed)
        localization[kind] = {
            headline: _by_name(intervals, box_names, (h,)) for h, headline in enumerate(HEADLINES)
        }
    return ModelIntervals(_by_name(auroc, [*test.task.classes, MEAN]), localization)


def reindex(reference: list[str], names: list[str]) -> Callable[[np.ndarray], np.ndarray]:
    """Map weights over ``reference``'s images ``(R, len(reference))`` to weights over
    ``names`` (the same images in another order; images ``reference`` lacks get weight 0).

    Args:
        reference: The image names the weights are over.
        names: The image names to give weights for.

    Returns:
        A function from ``(R, len(reference))`` to ``(R, len(names))`` float arrays.
    """
    position = {name: i for i, name in enumerate(reference)}
    source = np.asarray([position.get(name, -1) for name in names], dtype=int)
    present = source >= 0

    def weights_for(weights: np.ndarray) -> np.ndarray:
        mapped = np.zeros((len(weights), len(names)))
        mapped[:, present] = weights[:, source[present]]
        return mapped

    return weights_for


def _shared(a: list[str], b: list[str]) -> list[str]:
    """The images both lists hold, in ``a``'s order."""
    others = set(b)
    return [name for name in a if name in others]


def _headline_difference(
    a: LocalizationScores, b: LocalizationScores, n_resamples: int, seed: int
) -> KindDifference:
    """``a - b`` of every headline mean, paired on the images both scored."""
    shared = _shared(a.image_names, b.image_names)
    if not shared:
        return {}
    to_a, to_b = reindex(shared, a.image_names), reindex(shared, b.image_names)

    def statistic(weights: np.ndarray) -> np.ndarray:
        return a.headline(to_a(weights))[:, :, -1] - b.headline(to_b(weights))[:, :, -1]

    patient = dict(zip(a.image_names, a.patients, strict=True))
    intervals = bootstrap(statistic, [patient[n] for n in shared], n_resamples, seed=seed)
    return {headline: Difference.of(intervals, (h,)) for h, headline in enumerate(HEADLINES)}


def paired_maps(test: TestResult, n_resamples: int, seed: int) -> dict[Comparison, KindDifference]:
    """Each map kind minus the model's own CAM, on the same images and resamples.

    Args:
        test: the model's test split.
        n_resamples: bootstrap resamples.
        seed: seed of the resamples.

    Returns:
        Per comparison (``"pcm - cam"``, ``"gradcam - cam"``), each headline's difference of
        the means over the box classes; ``{}`` without the model's CAM.
    """
    if OWN_CAM not in test.scores:
        return {}
    return {
        Comparison.of_kind(kind): _headline_difference(
            scores, test.scores[OWN_CAM], n_resamples, seed
        )
        for kind, scores in test.scores.items()
        if kind != OWN_CAM
    }


def paired_models(a: TestResult, b: TestResult, n_resamples: int, seed: int) -> ModelDifference:
    """Model ``a`` minus model ``b`` on the test images both scored (matched by name).

    Args:
        a: the minuend's test split.
        b: the subtrahend's.
        n_resamples: bootstrap resamples (the same patients drawn for both).
        seed: seed of the resamples.

    Returns:
        The difference of the mean AUROC and, per map kind both have, of every headline.
    """
    shared = _shared(a.image_names, b.image_names)
    to_a, to_b = reindex(shared, a.image_names), reindex(shared, b.image_names)
    stat_a, stat_b = auroc_statistic(a.labels, a.probs), auroc_statistic(b.labels, b.probs)
    patient = dict(zip(a.image_names, a.patients, strict=True))
    auroc = bootstrap(
        lambda w: stat_a(to_a(w))[:, -1] - stat_b(to_b(w))[:, -1],
        [patient[n] for n in shared],
        n_resamples,
        seed=seed,
    )
    localization = {
        kind: _headline_difference(scores, b.scores[kind], n_resamples, seed)
        for kind, scores in a.scores.items()
        if kind in b.scores
    }
    return ModelDifference({MEAN: Difference.of(auroc)}, localization)
