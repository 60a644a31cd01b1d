"""What a deployed model decides, measured: per-class operating points chosen on validation and
the calibration of its probabilities, both scored on the test split with patient intervals.

The localization tables keep the paper's ``--prob-threshold``; these numbers are for the saved
model (``predict.py`` predicts a class above its operating point).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from cxr_paper.configuration.config import RunConfig
from cxr_paper.deploy.operating_points import operating_points
from cxr_paper.deploy.probability_calibration import calibration_report
from cxr_paper.scoring.decision_types import Decisions
from cxr_paper.scoring.outcome import TestResult


def decision_quality(
    val_labels: np.ndarray, val_logits: np.ndarray, test: TestResult, config: RunConfig
) -> Decisions:
    """The operating points and the calibration of one model
    (:func:`~cxr_paper.deploy.operating_points.operating_points`,
    :func:`~cxr_paper.deploy.probability_calibration.calibration_report`).

    Args:
        val_labels: Int array ``(N_val, K)`` of 0/1 labels.
        val_logits: Float array ``(N_val, K)``.
        test: The test split's result (labels, probabilities, patients).
        config: The run's settings (rule, temperature scaling, bootstrap).

    Returns:
        The thresholds with their test numbers and the calibration report.
    """
    classes = test.task.classes
    shared = dict(resamples=config.bootstrap_resamples, seed=config.bootstrap_seed)
    return Decisions(
        operating_points=operating_points(
            val_labels,
            expit(val_logits),
            test.labels,
            test.probs,
            test.patients,
            classes,
            config.operating_point,
            fallback=config.prob_threshold,
            **shared,
        ),
        calibration=calibration_report(
            val_labels,
            val_logits,
            test.labels,
            test.probs,
            test.patients,
            classes,
            config.temperature_scaling,
            **shared,
        ),
    )
