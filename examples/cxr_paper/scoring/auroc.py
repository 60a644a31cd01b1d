"""Table 1's metric, the one AUROC of the project: per class and its mean, for the split as
observed (:func:`macro_auroc`) and under bootstrap weights (:func:`weighted_auroc`, the same
computation), so Table 1 and its intervals' point estimates are one number. The Mann-Whitney form
with ties counting one half, vectorised over resamples (scikit-learn's ``roc_auc_score`` per
resample would take minutes); the tests hold it to scikit-learn's ``roc_auc_score``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def known_labels(batch: Mapping[str, Any]) -> np.ndarray:
    """A batch's labels as float, NaN where its ``label_mask`` leaves one out (an uncertain
    label under U-Ignore): such an entry is scored as neither positive nor negative.

    Args:
        batch: ``labels`` ``(B, K)`` and, optionally, ``label_mask`` ``(B, K)`` bool tensors.

    Returns:
        Float32 array ``(B, K)``.

    Examples:
        >>> import torch
        >>> batch = {"labels": torch.tensor([[1.0, 0.0]]),
        ...          "label_mask": torch.tensor([[True, False]])}
        >>> known_labels(batch).tolist()
        [[1.0, nan]]
    """
    labels = batch["labels"].detach().cpu().numpy().astype(np.float32)
    mask = batch.get("label_mask")
    if mask is not None:
        labels[~mask.detach().cpu().numpy().astype(bool)] = np.nan
    return labels


def weighted_auroc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of one class under each row of per-image weights (ties count one half); an image
    whose label is NaN (unknown) is left out.

    Equal to scikit-learn's ``roc_auc_score(labels, scores, sample_weight=w)`` for each row
    (over the known labels).

    Args:
        labels: ``(N,)`` 0/1 (or bool) labels of one class, NaN where unknown.
        scores: ``(N,)`` float scores (probabilities or logits).
        weights: ``(R, N)`` float weights, one row per resample (a bootstrap's counts).

    Returns:
        ``(R,)`` float64 AUROC, NaN where a row weighs no positive or no negative.

    Examples:
        >>> weighted_auroc(np.array([0, 1, 0, 1]), np.array([0.1, 0.8, 0.8, 0.9]), np.ones((1, 4)))
        array([0.875])
    """
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    values = np.asarray(labels, dtype=np.float64)[order]
    known = ~np.isnan(values)
    positive = np.where(known, values, 0) > 0
    w = np.asarray(weights, dtype=np.float64)[:, order] * known
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    pos = np.add.reduceat(w * positive, starts, axis=1)  # (R, groups of tied scores)
    neg = np.add.reduceat(w * ~positive, starts, axis=1)  # unknown labels weigh 0
    below = np.cumsum(neg, axis=1) - neg  # negatives with a lower score
    numerator = (pos * (below + 0.5 * neg)).sum(axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def macro_auroc(labels: np.ndarray, scores: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Per-class AUROC and their mean (Table 1).

    Args:
        labels: ``(N, K)`` 0/1 labels; column ``k`` is ``classes[k]``.
        scores: ``(N, K)`` float probabilities.
        classes: the ``K`` class names.

    Returns:
        ``{class: AUROC}`` (NaN where the split holds one label value only) and ``"mean"`` over
        the defined ones.

    Examples:
        >>> labels = np.zeros((4, 2)); labels[:2, 0] = 1
        >>> scores = np.tile(np.array([[0.9], [0.8], [0.2], [0.1]]), (1, 2))
        >>> result = macro_auroc(labels, scores, ["Atelectasis", "Cardiomegaly"])
        >>> result["Atelectasis"], math.isnan(result["Cardiomegaly"]), result["mean"]
        (1.0, True, 1.0)
    """
    ones = np.ones((1, len(labels)))
    result = {
        name: float(weighted_auroc(labels[:, i], scores[:, i], ones)[0])
        for i, name in enumerate(classes)
    }
    values = [v for v in result.values() if not math.isnan(v)]
    result["mean"] = float(np.mean(values)) if values else math.nan
    return result
