"""What to train on where a report-mined label is uncertain or absent (CheXpert, MIMIC-CXR).

CheXpert's labeler (Irvin et al. 2019, "CheXpert: A Large Chest Radiograph Dataset with
Uncertainty Labels and Expert Comparison", AAAI) gives each observation ``1`` (positive), ``0``
(negative), ``-1`` (uncertain) or leaves it blank (not mentioned in the report); MIMIC-CXR-JPG's
``-chexpert.csv`` and ``-negbio.csv`` use the same values. The paper compares, among others:

- **U-Ignore**: uncertain labels are left out of the loss (a mask; ``weighted_bce`` takes one);
- **U-Zeros**: uncertain labels are negatives;
- **U-Ones**: uncertain labels are positives.

A blank is read as a negative by default (``blank="negative"``); ``blank="ignore"`` masks it
too, as torchxrayvision's CheXpert and MIMIC loaders do (they keep blanks as NaN).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

#: How a table stores what a report said: 1, 0, -1, and NaN for a blank.
POSITIVE, NEGATIVE, UNCERTAIN = 1.0, 0.0, -1.0


class UncertaintyPolicy(StrEnum):
    """Irvin et al. (2019)'s ways to train on an uncertain label."""

    IGNORE = "u-ignore"
    ZEROS = "u-zeros"
    ONES = "u-ones"


class BlankPolicy(StrEnum):
    """What a blank (not mentioned) label trains as."""

    NEGATIVE = "negative"
    IGNORE = "ignore"


def apply_policy(
    labels: np.ndarray,
    uncertain: UncertaintyPolicy | str = UncertaintyPolicy.IGNORE,
    blank: BlankPolicy | str = BlankPolicy.NEGATIVE,
) -> tuple[np.ndarray, np.ndarray]:
    """Training targets and the mask of labels kept, from a table's labels.

    Args:
        labels: ``(N, K)`` float, each ``1``, ``0``, ``-1`` or NaN (blank).
        uncertain: what ``-1`` becomes.
        blank: what NaN becomes.

    Returns:
        ``targets`` ``(N, K)`` float32 in {0, 1} (0 where masked) and ``mask`` ``(N, K)`` bool,
        true where the label is kept (the loss's ``mask``).

    Raises:
        ValueError: a label that is none of 1, 0, -1, NaN, or an unknown policy.

    Examples:
        >>> labels = np.array([[1.0, 0.0, -1.0, np.nan]])
        >>> targets, mask = apply_policy(labels, "u-ignore")
        >>> targets.tolist(), mask.tolist()
        ([[1.0, 0.0, 0.0, 0.0]], [[True, True, False, True]])
        >>> apply_policy(labels, "u-ones", "ignore")[0].tolist()
        [[1.0, 0.0, 1.0, 0.0]]
    """
    uncertain, blank = UncertaintyPolicy(uncertain), BlankPolicy(blank)
    labels = np.asarray(labels, dtype=np.float64)
    known = np.isin(labels, (POSITIVE, NEGATIVE, UNCERTAIN)) | np.isnan(labels)
    if not known.all():
        bad = np.unique(labels[~known])[:5].tolist()
        raise ValueError(f"labels must be 1, 0, -1 or NaN (blank); found {bad}.")
    is_uncertain, is_blank = labels == UNCERTAIN, np.isnan(labels)
    targets = np.where(labels == POSITIVE, 1.0, 0.0)
    if uncertain is UncertaintyPolicy.ONES:
        targets[is_uncertain] = 1.0
    mask = np.ones(labels.shape, dtype=bool)
    if uncertain is UncertaintyPolicy.IGNORE:
        mask &= ~is_uncertain
    if blank is BlankPolicy.IGNORE:
        mask &= ~is_blank
    return targets.astype(np.float32), mask
