"""Table 1's metric: AUROC per class and its mean (scikit-learn's ``roc_auc_score``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import roc_auc_score


def macro_auroc(labels: np.ndarray, scores: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    """Per-class AUROC (NaN where the split holds one label value only) and their mean; column
    ``k`` of ``labels`` and ``scores`` is ``classes[k]``.

    Example:
        >>> labels = np.zeros((4, 2)); labels[:2, 0] = 1
        >>> scores = np.tile(np.array([[0.9], [0.8], [0.2], [0.1]]), (1, 2))
        >>> result = macro_auroc(labels, scores, ["Atelectasis", "Cardiomegaly"])
        >>> result["Atelectasis"], math.isnan(result["Cardiomegaly"]), result["mean"]
        (1.0, True, 1.0)
    """
    result = {}
    for i, name in enumerate(classes):
        column = labels[:, i]
        result[name] = (
            float(roc_auc_score(column, scores[:, i]))
            if 0 < column.sum() < len(column)
            else math.nan
        )
    values = [v for v in result.values() if not math.isnan(v)]
    result["mean"] = float(np.mean(values)) if values else math.nan
    return result
