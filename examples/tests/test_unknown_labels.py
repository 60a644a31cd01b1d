"""A label left out by U-Ignore (NaN in a split's labels) is neither a positive nor a negative in
any number of the run: AUROC (held to scikit-learn on the known labels), sensitivity and
specificity, the operating point, the calibration error and the temperature's loss each equal
the same computation on the known labels alone."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from cxr_paper.deploy.operating_points import choose_threshold, sensitivity_specificity
from cxr_paper.deploy.probability_calibration import calibration_error, mean_bce
from cxr_paper.scoring.auroc import weighted_auroc


def _labels_with_unknowns(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.4).astype(np.float64)
    labels[:2] = [0.0, 1.0]  # both values among the known ones
    unknown = rng.random(n) < 0.3
    unknown[:2] = False
    scores = np.round(rng.random(n), 2)  # ties too
    with_nan = np.where(unknown, np.nan, labels)
    return with_nan, scores, ~unknown


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(4, 80))
def test_auroc_leaves_unknown_labels_out(seed, n):
    labels, scores, known = _labels_with_unknowns(seed, n)
    weights = np.random.default_rng(seed).integers(0, 3, (2, n)).astype(float)
    weights[:, :2] = 1
    expected = [
        roc_auc_score(labels[known], scores[known], sample_weight=w[known]) for w in weights
    ]
    assert np.allclose(weighted_auroc(labels, scores, weights), expected)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(4, 60))
def test_decisions_and_calibration_leave_unknown_labels_out(seed, n):
    labels, scores, known = _labels_with_unknowns(seed, n)
    weights = np.ones((1, n))
    both = sensitivity_specificity(labels[:, None], scores[:, None], np.array([0.5]), weights)
    alone = sensitivity_specificity(
        labels[known][:, None], scores[known][:, None], np.array([0.5]), weights[:, known]
    )
    assert np.allclose(both, alone, equal_nan=True)
    assert choose_threshold(labels, scores, "youden") == choose_threshold(
        labels[known], scores[known], "youden"
    )
    assert np.allclose(
        calibration_error(labels, scores, weights),
        calibration_error(labels[known], scores[known], weights[:, known]),
    )
    logits = np.log(scores + 0.01) - np.log(1.01 - scores)
    assert np.isclose(mean_bce(logits, labels, 1.5), mean_bce(logits[known], labels[known], 1.5))
