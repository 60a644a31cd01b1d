"""What one kind of map scored on the test split, as a type: ``metrics.json``'s
``localization`` entry of a map kind (the fixed protocol at every overlap with IoBB and IoU, the
seed authors' protocol, MaxBoxAccV2, the pointing game, the accuracy over the heatmap threshold
and the calibrated accuracy), each per box class and ``"mean"``."""

from __future__ import annotations

from dataclasses import dataclass, field

from cxr_paper.scoring.headlines import FIXED_KEY, Headline
from cxr_paper.scoring.interval_types import MEAN


@dataclass(frozen=True)
class FixedNumbers:
    """Accuracy (share of GT boxes hit) and false positives per image at one overlap.

    Attributes:
        accuracy: Share of GT boxes hit, in ``[0, 1]`` (NaN without boxes).
        afp: False positives per image, ``>= 0``.
    """

    accuracy: float
    afp: float


@dataclass(frozen=True)
class MaxBoxAcc:
    """MaxBoxAccV2 (wsolevaluation), the heatmap threshold that reached it per IoU threshold
    ``delta`` (keys ``"0.3"``, ``"0.5"``, ``"0.7"``), and the (image, class) pairs scored.

    Attributes:
        max_box_acc: MaxBoxAccV2, the mean over IoU thresholds 0.3, 0.5, 0.7.
        optimal_threshold: Per IoU threshold, the heatmap threshold that reached its maximum.
        pairs: (image, class) pairs scored.
    """

    max_box_acc: float
    optimal_threshold: dict[str, float]
    pairs: int


@dataclass(frozen=True)
class Pointing:
    """The pointing game's accuracy and the (image, class) pairs scored.

    Attributes:
        accuracy: Share of pairs whose map maximum falls in (or near) a GT box.
        pairs: (image, class) pairs scored.
    """

    accuracy: float
    pairs: int


@dataclass(frozen=True)
class ThresholdCurve:
    """The fixed protocol's accuracy and false positives at each heatmap threshold.

    Attributes:
        thresholds: Heatmap thresholds, increasing.
        accuracy: Per overlap key, the class-mean accuracy at each threshold.
        afp: Per overlap key, the class-mean false positives per image at each threshold.
    """

    thresholds: list[float]
    accuracy: dict[str, list[float]]
    afp: dict[str, list[float]]


@dataclass(frozen=True)
class Calibrated:
    """The accuracy and false positives of the held-out box images at the heatmap threshold
    the calibration part chose.

    Attributes:
        threshold: The heatmap threshold the calibration part chose.
        accuracy: Per overlap key, the accuracy of the held-out images at it.
        afp: Per overlap key, their false positives per image.
        calibration_images: Box images that chose the threshold.
        evaluation_images: Held-out box images it was scored on.
    """

    threshold: float
    accuracy: dict[str, float]
    afp: dict[str, float]
    calibration_images: int
    evaluation_images: int


#: per overlap key (``"0.1"`` ... ``"0.9"``), per class, the fixed protocol's numbers
ByOverlap = dict[str, dict[str, FixedNumbers]]


@dataclass(frozen=True)
class KindScores:
    """Every localization number of one map kind.

    Attributes:
        iobb: Per overlap key, per box class and ``"mean"``: accuracy and false positives with
            IoBB (the paper's measure).
        iou: The same with IoU.
        seed_authors: The same as the authors' code counts it.
        max_box_acc_v2: Per box class and ``"mean"``.
        pointing_game: Per box class and ``"mean"``.
        threshold_curve: Accuracy and false positives over heatmap thresholds.
        calibrated: The numbers at a threshold chosen on held-out images.

    Examples:
        >>> fixed = {"0.1": {"Mass": FixedNumbers(0.5, 1.0), "mean": FixedNumbers(0.5, 1.0)}}
        >>> KindScores(iobb=fixed).headline(Headline.AFP)
        1.0
    """

    iobb: ByOverlap
    iou: ByOverlap = field(default_factory=dict)
    seed_authors: ByOverlap = field(default_factory=dict)
    max_box_acc_v2: dict[str, MaxBoxAcc] = field(default_factory=dict)
    pointing_game: dict[str, Pointing] = field(default_factory=dict)
    threshold_curve: ThresholdCurve | None = None
    calibrated: Calibrated | None = None

    @property
    def fixed(self) -> dict[str, FixedNumbers]:
        """Per class, the fixed protocol at its overlap (IoBB > 0.1, Tables 2-3)."""
        return self.iobb[FIXED_KEY]

    def headline(self, headline: Headline, name: str = MEAN) -> float:
        """The value of ``headline`` for class ``name`` (or the mean)."""
        if headline is Headline.ACCURACY:
            return self.fixed[name].accuracy
        if headline is Headline.AFP:
            return self.fixed[name].afp
        if headline is Headline.MAX_BOX_ACC_V2:
            return self.max_box_acc_v2[name].max_box_acc
        if headline is Headline.POINTING_GAME:
            return self.pointing_game[name].accuracy
        if self.calibrated is None:
            raise ValueError("these scores hold no calibrated accuracy (written before it was).")
        return self.calibrated.accuracy[name]
