"""Whether the predicted probabilities mean what they say: expected calibration error (ECE),
reliability curves with patient-bootstrap intervals, and temperature scaling.

Convention (Guo et al., "On calibration of modern neural networks", ICML 2017):
    - Each class is a binary problem; its probability ``p`` is compared with how often the class
      is present (class-wise calibration, as torchmetrics' ``BinaryCalibrationError``).
    - 15 equal-width bins over [0, 1] (``p`` in ``(b/15, (b+1)/15]``, 0 in the first);
      ECE = sum over bins of (images in the bin / all images) * |share positive - mean ``p``|.
    - "all classes" pools every (image, class) pair into one set of bins; the per-class ECEs
      are reported beside it.
    - Temperature scaling fits one ``T > 0`` shared by all classes on validation, minimising the
      mean binary cross-entropy of ``sigmoid(logit / T)``; it changes no ranking, so AUROC and
      the operating points' decisions are unchanged.
    - The test split's logits are recovered as ``logit(p)`` from its stored probabilities,
      clipped to ``[1e-7, 1 - 1e-7]`` (float32 probabilities saturate beyond that).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import expit, logit

from cam_boxes_iobb import bootstrap
from cxr_paper.scoring.decision_types import (
    ALL_CLASSES,
    Calibration,
    CalibrationBin,
    CalibrationPart,
)
from cxr_paper.scoring.interval_types import Interval

BINS = 15
#: The search range of log T (T from 0.05 to 20).
LOG_T_RANGE = (-3.0, 3.0)
CLIP = 1e-7


def bin_index(probs: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The bin of each probability: ``ceil(p * bins) - 1``, 0 for ``p = 0``.

    Args:
        probs: Float array of any shape, in ``[0, 1]``.
        bins: Number of equal-width bins.

    Returns:
        Int array of ``probs``' shape, in ``[0, bins)``.

    Examples:
        >>> bin_index(np.array([0.0, 0.05, 1 / 15, 0.5, 1.0])).tolist()
        [0, 0, 0, 7, 14]
    """
    return np.clip(np.ceil(np.asarray(probs, dtype=np.float64) * bins) - 1, 0, bins - 1).astype(int)


def _bin_sums(labels: np.ndarray, probs: np.ndarray, weights: np.ndarray, bins: int) -> tuple:
    """Per bin, under weights ``(R, N)``: the weight, weighted positives and weighted ``p``
    (an unknown, NaN, label weighs 0)."""
    one_hot = np.eye(bins)[bin_index(probs, bins)]  # (N, bins)
    known = ~np.isnan(labels)
    w = np.asarray(weights, dtype=np.float64) * known
    labels = np.where(known, labels, 0.0)
    return w @ one_hot, w @ (one_hot * labels[:, None]), w @ (one_hot * probs[:, None])


def calibration_error(
    labels: np.ndarray, probs: np.ndarray, weights: np.ndarray | None = None, bins: int = BINS
) -> np.ndarray:
    """ECE of binary ``probs`` ``(N,)`` against ``labels`` ``(N,)``, one value per row of
    ``weights`` ``(R, N)`` (default: every image once): ``(R,)``.

    Args:
        labels: ``(N,)`` 0/1.
        probs: ``(N,)`` float.
        weights: ``(R, N)`` per-image weights, or ``None``.
        bins: Number of equal-width bins.

    Returns:
        Float64 array ``(R,)``.

    Examples:
        >>> calibration_error(np.array([1, 0, 1, 0]), np.array([0.9, 0.1, 0.6, 0.6])).round(3)
        array([0.1])
    """
    labels = np.asarray(labels, dtype=np.float64).ravel()
    probs = np.asarray(probs, dtype=np.float64).ravel()
    weights = np.ones((1, len(labels))) if weights is None else weights
    count, positives, confidence = _bin_sums(labels, probs, weights, bins)
    total = count.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.abs(positives - confidence).sum(axis=1) / total[:, 0]


def reliability(
    labels: np.ndarray, probs: np.ndarray, weights: np.ndarray, bins: int = BINS
) -> np.ndarray:
    """``(R, bins, 2)``: each bin's mean probability and share of positives under weights
    ``(R, N)``; NaN for an empty bin.

    Args:
        labels: ``(N,)`` 0/1.
        probs: ``(N,)`` float.
        weights: ``(R, N)`` per-image weights.
        bins: Number of equal-width bins.

    Returns:
        Float64 array ``(R, bins, 2)``.
    """
    labels = np.asarray(labels, dtype=np.float64).ravel()
    probs = np.asarray(probs, dtype=np.float64).ravel()
    count, positives, confidence = _bin_sums(labels, probs, weights, bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([confidence / count, positives / count], axis=-1)


def to_logits(probs: np.ndarray) -> np.ndarray:
    """``logit(p)`` of probabilities clipped to ``[1e-7, 1 - 1e-7]``.

    Args:
        probs: Float array, any shape.

    Returns:
        Float64 array of the same shape.

    Examples:
        >>> to_logits(np.array([0.5, 1.0])).round(2).tolist()
        [0.0, 16.12]
    """
    return logit(np.clip(np.asarray(probs, dtype=np.float64), CLIP, 1 - CLIP))


def mean_bce(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    """Mean binary cross-entropy of ``sigmoid(logits / temperature)`` (numerically stable).

    Args:
        logits: Float array, any shape.
        labels: 0/1 array of the same shape (NaN: unknown, left out).
        temperature: ``T > 0``.

    Returns:
        The mean loss.

    Examples:
        >>> round(mean_bce(np.array([0.0]), np.array([1]), 1.0), 4)  # log 2
        0.6931
    """
    y = np.asarray(labels, dtype=np.float64)
    known = ~np.isnan(y)  # U-Ignore's uncertain labels are no evidence either way
    z = np.asarray(logits, dtype=np.float64)[known] / temperature
    return float(np.mean(np.logaddexp(0.0, z) - y[known] * z))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The ``T`` minimising :func:`mean_bce` on ``logits``/``labels`` (any shape, pooled),
    searched over log T in :data:`LOG_T_RANGE` (bounded Brent).

    Args:
        logits: Float array, any shape.
        labels: 0/1 array of the same shape.

    Returns:
        The temperature.

    Examples:
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(0, 2, 20000); y = rng.random(20000) < 1 / (1 + np.exp(-z))
        >>> round(fit_temperature(3 * z, y), 1)  # logits three times too confident
        3.0
    """
    from scipy.optimize import minimize_scalar  # here: predicting only applies a temperature

    found = minimize_scalar(
        lambda log_t: mean_bce(logits, labels, float(np.exp(log_t))),
        bounds=LOG_T_RANGE,
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(found.x))


def calibration_report(
    val_labels: np.ndarray,
    val_logits: np.ndarray,
    test_labels: np.ndarray,
    test_probs: np.ndarray,
    patients: Sequence[Any],
    classes: Sequence[str],
    temperature_scaling: bool,
    resamples: int = 1000,
    seed: int = 0,
) -> Calibration:
    """ECE per class and over all classes, and the pooled reliability curve, on the test split
    with patient-bootstrap 95 % intervals; with ``temperature_scaling`` also after the
    temperature fitted on validation (``"after"``), its ECE on the same resamples.

    ``temperature_at_bound`` says the fit ended at the edge of :data:`LOG_T_RANGE`: one
    temperature cannot calibrate these probabilities (an offset, such as a weighted loss gives,
    needs a bias term it does not have).

    Args:
        val_labels: ``(N_val, K)`` 0/1 validation labels.
        val_logits: ``(N_val, K)`` validation logits (the temperature is fitted on these).
        test_labels: ``(N, K)`` 0/1 test labels.
        test_probs: ``(N, K)`` test probabilities.
        patients: the ``N`` test images' patients (the bootstrap draws patients).
        classes: the ``K`` class names.
        temperature_scaling: fit one temperature on validation and score after it too.
        resamples: bootstrap resamples.
        seed: seed of the resamples.

    Returns:
        The bins, the temperature, whether its fit ended at a bound, and the ECE per class and
        pooled with the reliability curve, before and (with ``temperature_scaling``) after.
    """
    test_logits = to_logits(test_probs)
    temperature = fit_temperature(val_logits, val_labels) if temperature_scaling else 1.0
    parts = {"before": test_probs}
    if temperature_scaling:
        parts["after"] = expit(test_logits / temperature)
    groups = list(patients)
    at_bound = (
        temperature_scaling and min(abs(np.log(temperature) - edge) for edge in LOG_T_RANGE) < 1e-3
    )
    scored = {
        name: _part(test_labels, np.asarray(probs), groups, classes, resamples, seed)
        for name, probs in parts.items()
    }
    return Calibration(BINS, float(temperature), bool(at_bound), **scored)


def _part(
    labels: np.ndarray,
    probs: np.ndarray,
    groups: list[Any],
    classes: Sequence[str],
    resamples: int,
    seed: int,
) -> CalibrationPart:
    k = labels.shape[1]

    def pooled(w: np.ndarray) -> np.ndarray:
        return np.repeat(w, k, axis=1)  # (R, N * K), image-major like labels.ravel()

    def statistic(w: np.ndarray) -> np.ndarray:
        per_class = [calibration_error(labels[:, j], probs[:, j], w) for j in range(k)]
        return np.stack([*per_class, calibration_error(labels, probs, pooled(w))], axis=1)

    ece = bootstrap(statistic, groups, n_resamples=resamples, seed=seed)
    curve = bootstrap(
        lambda w: reliability(labels, probs, pooled(w)), groups, n_resamples=resamples, seed=seed
    )
    counts = np.bincount(bin_index(probs.ravel()), minlength=BINS)
    return CalibrationPart(
        ece={name: Interval.of(ece, j) for j, name in enumerate([*classes, ALL_CLASSES])},
        curve=[
            CalibrationBin(
                bin=(b / BINS, (b + 1) / BINS),
                count=int(counts[b]),
                confidence=Interval.of(curve, (b, 0)),
                observed=Interval.of(curve, (b, 1)),
            )
            for b in range(BINS)
        ],
    )
