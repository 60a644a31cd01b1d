"""What the test split gave one model: the numbers, the raw outputs and what the figures and
the viewer show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cxr_paper.configuration.task import Task
from cxr_paper.scoring.kind_scores import KindScores
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.scores import LocalizationScores


@dataclass
class TestResult:
    """What the test split gave: AUROC, localization per map kind, the raw outputs (for Fig. 6),
    the Fig. 7 examples, on how many images each part was computed, and each method's seconds.

    Attributes:
        auroc: Per class and ``"mean"``.
        localization: Per map kind, its scores.
        labels: Int array ``(N, K)`` of 0/1 labels.
        probs: Float array ``(N, K)`` of probabilities.
        box_images: Test images with boxes that were scored.
        task: The classes.
        examples: Per image name, the Fig. 7 maps and boxes.
        skipped: Images that could not be read.
        seconds: Per map method, seconds taken.
        image_names: The ``N`` image names, in ``labels``' order.
        patients: The ``N`` patient ids.
        scores: Per map kind, the streaming scores (their per-image records feed the bootstrap).
        viewer: Per image name, the HTML viewer's record.
        maps: Per map kind, the saved maps (``ids``, ``maps``, ``probs`` lists).
    """

    auroc: dict[str, float]
    #: per map kind, every localization number
    localization: dict[MapKind, KindScores]
    labels: np.ndarray
    probs: np.ndarray
    box_images: int
    #: the data set's classes (the columns of ``labels``/``probs``), box classes and box frame
    task: Task
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: every scored test image (rows of ``labels``/``probs``) and its patient
    image_names: list[str] = field(default_factory=list)
    patients: list[int] = field(default_factory=list)
    #: per map kind, the scores with their per-image records (for the intervals)
    scores: dict[MapKind, LocalizationScores] = field(default_factory=dict)
    #: per test image with boxes, what the HTML report's browser shows (``viewer_data``)
    viewer: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per map kind, each box image's name, class maps and probabilities (``maps/<kind>.npz``)
    maps: dict[str, dict[str, list]] = field(default_factory=dict)
