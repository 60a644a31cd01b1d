"""Per-class operating points: the probability threshold a user names, chosen on validation.

A rule is one of ``"youden"`` (the threshold maximising Youden's J = sensitivity + specificity -
1), ``"sensitivity:S"`` (the highest specificity whose sensitivity is at least ``S``) or
``"specificity:S"`` (the highest sensitivity whose specificity is at least ``S``).

Convention:
    - A class is predicted when its probability is **above** the threshold (``p > t``, as the
      paper's ``p > 0.5``).
    - Candidates are scikit-learn's ``roc_curve`` points; the threshold stored for a point lies
      halfway between the lowest score it calls positive and the next lower score, so ``>`` and
      ``>=`` agree on the validation data and new scores between them fall on the safe side of
      neither. Calling every image positive stores 0.0 (or, when the lowest score is 0.0, the
      largest float below it: ``-5e-324``); calling none stores 1.0.
    - Ties between candidates of equal J go to the higher threshold (fewer positives).
    - A class without positives or without negatives on validation has no threshold (``None``);
      :func:`thresholds_or` fills it with a fallback (the model's ``prob_threshold``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from cam_boxes_iobb import bootstrap
from cxr_paper.configuration.operating_point_rule import RULES, Rule
from cxr_paper.scoring.decision_types import AtThreshold, OperatingPoints
from cxr_paper.scoring.interval_types import Interval

__all__ = [
    "RULES",
    "Rule",
    "check_thresholds",
    "choose_threshold",
    "operating_points",
    "sensitivity_specificity",
    "thresholds_or",
]


def choose_threshold(labels: np.ndarray, scores: np.ndarray, rule: Rule | str) -> float | None:
    """The threshold of one class under ``rule`` (see the module's convention).

    Args:
        labels: ``(N,)`` 0/1 labels of the validation split.
        scores: ``(N,)`` float probabilities.
        rule: A :class:`Rule` or its text.

    Returns:
        The threshold (``p > t`` is called positive), or ``None`` when the labels hold one
        class only.

    Examples:
        >>> labels = np.array([0, 0, 1, 0, 1, 1])
        >>> scores = np.array([0.1, 0.3, 0.35, 0.6, 0.7, 0.9])
        >>> choose_threshold(labels, scores, "youden")  # J = 2/3 at 0.325 and 0.65: the higher
        0.65
        >>> round(choose_threshold(labels, scores, "sensitivity:1.0"), 6)  # between 0.3 and 0.35
        0.325
    """
    from sklearn.metrics import roc_curve  # here: predicting reads rules, never chooses them

    rule = Rule.parse(rule) if isinstance(rule, str) else rule
    values = np.asarray(labels, dtype=np.float64)
    known = ~np.isnan(values)
    labels, scores = values[known] > 0, np.asarray(scores, dtype=np.float64)[known]
    if labels.all() or not labels.any():
        return None
    fpr, tpr, cuts = roc_curve(labels, scores, drop_intermediate=False)
    sensitivity, specificity = tpr, 1 - fpr
    if rule.kind == "youden":
        merit = sensitivity + specificity
    elif rule.kind == "sensitivity":
        merit = np.where(sensitivity >= rule.target - 1e-12, specificity, -np.inf)
    else:
        merit = np.where(specificity >= rule.target - 1e-12, sensitivity, -np.inf)
    # roc_curve lists thresholds from high to low: argmax takes the highest of equal merits
    # (rounded, so that 1 + 2/3 and 2/3 + 1 tie)
    best = int(np.argmax(np.round(merit, 12)))
    return _between(cuts, best, scores)


def _between(cuts: np.ndarray, index: int, scores: np.ndarray) -> float:
    """Halfway between the lowest score called positive at ``cuts[index]`` and the next lower;
    always below that score, so that ``p > t`` calls it positive (the midpoint of two adjacent
    floats can round up to the higher one, and a lowest score of 0.0 needs ``t < 0``)."""
    if not np.isfinite(cuts[index]):
        return 1.0
    cut = float(cuts[index])
    lower = scores[scores < cut]
    threshold = float((cut + lower.max()) / 2) if lower.size else 0.0
    return threshold if threshold < cut else math.nextafter(cut, -math.inf)


def thresholds_or(chosen: Sequence[float | None], fallback: float) -> np.ndarray:
    """The chosen thresholds with ``fallback`` where a class has none.

    Args:
        chosen: Per class, a threshold or ``None``.
        fallback: The threshold for ``None``.

    Returns:
        Float64 array ``(K,)``.

    Examples:
        >>> thresholds_or([0.2, None], 0.5).tolist()
        [0.2, 0.5]
    """
    return np.array([fallback if t is None else t for t in chosen], dtype=np.float64)


def sensitivity_specificity(
    labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """``(R, K, 2)``: sensitivity and specificity of each class at its threshold (``p > t``)
    under per-image weights ``(R, N)``; NaN where a resample holds no positive (negative).

    Args:
        labels: ``(N, K)`` 0/1 labels (NaN: unknown, weighs 0).
        scores: ``(N, K)`` float probabilities.
        thresholds: ``(K,)``.
        weights: ``(R, N)`` per-image weights (bootstrap counts).

    Returns:
        Float64 array ``(R, K, 2)``.

    Examples:
        >>> labels = np.array([[1], [1], [0], [0]]); scores = np.array([[0.9], [0.2], [0.1], [0.7]])
        >>> sensitivity_specificity(labels, scores, np.array([0.5]), np.ones((1, 4))).tolist()
        [[[0.5, 0.5]]]
    """
    labels = np.asarray(labels, dtype=np.float64)
    positive, negative = (labels == 1).astype(np.float64), (labels == 0).astype(np.float64)
    called = (np.asarray(scores) > np.asarray(thresholds)[None, :]).astype(np.float64)
    w = np.asarray(weights, dtype=np.float64)
    true_pos = w @ (positive * called)
    true_neg = w @ (negative * (1 - called))
    positives, negatives = w @ positive, w @ negative
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([true_pos / positives, true_neg / negatives], axis=-1)


def operating_points(
    val_labels: np.ndarray,
    val_probs: np.ndarray,
    test_labels: np.ndarray,
    test_probs: np.ndarray,
    patients: Sequence[Any],
    classes: Sequence[str],
    rule: Rule | str,
    fallback: float,
    resamples: int = 1000,
    seed: int = 0,
) -> OperatingPoints:
    """Thresholds chosen on validation by ``rule``; sensitivity and specificity at them on the
    test split with patient-bootstrap 95 % intervals (the thresholds are held fixed, so their
    own noise from validation is not in the intervals).

    Args:
        val_labels: ``(N_val, K)`` 0/1 validation labels.
        val_probs: ``(N_val, K)`` validation probabilities (the thresholds are chosen on these).
        test_labels: ``(N, K)`` 0/1 test labels.
        test_probs: ``(N, K)`` test probabilities.
        patients: the ``N`` test images' patients (the bootstrap draws patients).
        classes: the ``K`` class names.
        rule: ``youden``, ``sensitivity:S`` or ``specificity:S`` (:class:`Rule`).
        fallback: the threshold of a class the rule cannot choose one for (no positive or no
            negative on validation).
        resamples: bootstrap resamples.
        seed: seed of the resamples.

    Returns:
        The rule, the fallback, per class the threshold, whether the rule could choose one,
        and the test sensitivity and specificity at it with 95 % intervals.
    """
    rule = Rule.parse(rule) if isinstance(rule, str) else rule
    chosen = [
        choose_threshold(val_labels[:, k], val_probs[:, k], rule) for k in range(len(classes))
    ]
    thresholds = thresholds_or(chosen, fallback)
    intervals = bootstrap(
        lambda w: sensitivity_specificity(test_labels, test_probs, thresholds, w),
        groups=list(patients),
        n_resamples=resamples,
        seed=seed,
    )
    return OperatingPoints(
        rule=str(rule),
        fallback=float(fallback),
        thresholds={c: float(t) for c, t in zip(classes, thresholds, strict=True)},
        chosen={c: t is not None for c, t in zip(classes, chosen, strict=True)},
        test={
            c: AtThreshold(Interval.of(intervals, (k, 0)), Interval.of(intervals, (k, 1)))
            for k, c in enumerate(classes)
        },
    )


def check_thresholds(thresholds: Any, classes: Sequence[str]) -> str | None:
    """What is wrong with a saved ``{class: threshold}`` mapping, or ``None``.

    Args:
        thresholds: The saved value.
        classes: The model's classes.

    Returns:
        A description of the problem, or ``None`` when it is valid.
    """
    if not isinstance(thresholds, dict):
        return "not a mapping of class to threshold"
    unknown = sorted(set(thresholds) - set(classes))
    if unknown:
        return f"classes {unknown} are not the model's"
    bad = [
        c
        for c, t in thresholds.items()
        if not (isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t))
        or not -1 <= t <= 1
    ]
    return f"thresholds of {bad} are not numbers in [-1, 1]" if bad else None
