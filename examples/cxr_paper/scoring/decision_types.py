"""What a saved model decides, measured, as types: the operating points chosen on validation
with the test sensitivity and specificity at them, and the calibration of its probabilities
(``metrics.json``'s ``operating_points`` and ``calibration``; computed by
:mod:`cxr_paper.deploy.decisions`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cxr_paper.files.typed_json import EMPTY_IS_NONE
from cxr_paper.scoring.interval_types import Interval

#: The key of the pooled ECE over all classes.
ALL_CLASSES = "all"


@dataclass(frozen=True)
class AtThreshold:
    """Test sensitivity and specificity at one class's operating point.

    Attributes:
        sensitivity: True-positive rate of the test split at the threshold, with its interval.
        specificity: True-negative rate, with its interval.
    """

    sensitivity: Interval
    specificity: Interval


@dataclass(frozen=True)
class OperatingPoints:
    """Per class the threshold ``rule`` chose on validation (``chosen``: whether it could; the
    others use ``fallback``) and the test numbers at it.

    Attributes:
        rule: The rule's text (``"youden"``, ``"sensitivity>=0.9"``, ...).
        fallback: The threshold of classes the rule could not be met for.
        thresholds: Per class, the probability threshold used.
        chosen: Per class, whether ``rule`` chose it (else ``fallback``).
        test: Per class, sensitivity and specificity on the test split.
    """

    rule: str
    fallback: float
    thresholds: dict[str, float]
    chosen: dict[str, bool]
    test: dict[str, AtThreshold]

    def __post_init__(self) -> None:
        if set(self.thresholds) != set(self.chosen) or set(self.chosen) != set(self.test):
            raise ValueError("thresholds, chosen and test name different classes")

    def saved(self) -> dict[str, object]:
        """What the saved model keeps: the rule and the thresholds it chose (classes without
        one use the model's probability threshold)."""
        kept = {c: t for c, t in self.thresholds.items() if self.chosen[c]}
        return {"rule": self.rule, "thresholds": kept}


@dataclass(frozen=True)
class CalibrationBin:
    """One bin of the reliability curve: its probability range, how many (image, class) pairs
    fell in it, their mean probability and the share that were positive.

    Attributes:
        bin: ``(low, high)`` probability range.
        count: (image, class) pairs in it.
        confidence: Their mean probability, with its interval.
        observed: The share of them that were positive, with its interval.
    """

    bin: tuple[float, float]
    count: int
    confidence: Interval
    observed: Interval


@dataclass(frozen=True)
class CalibrationPart:
    """The ECE per class and over all classes (:data:`ALL_CLASSES`), and the reliability curve.

    Attributes:
        ece: Expected calibration error per class and :data:`ALL_CLASSES`.
        curve: The reliability curve's bins, lowest first.
    """

    ece: dict[str, Interval]
    curve: list[CalibrationBin]


@dataclass(frozen=True)
class Calibration:
    """The calibration before and (with temperature scaling) after the temperature fitted on
    validation; ``temperature_at_bound``: the fit ended at the edge of its range.

    Attributes:
        bins: Number of equal-width probability bins.
        temperature: The fitted temperature (1 means unchanged).
        temperature_at_bound: Whether the fit ended at the edge of its range.
        before: The calibration of the model's own probabilities.
        after: The calibration after temperature scaling (``None`` when not applied).
    """

    bins: int
    temperature: float
    temperature_at_bound: bool
    before: CalibrationPart
    after: CalibrationPart | None = field(default=None, metadata={EMPTY_IS_NONE: True})


@dataclass(frozen=True)
class Decisions:
    """Both, as a result holds them (absent from results written before they were measured).

    Attributes:
        operating_points: The per-class thresholds and their test numbers, or ``None``.
        calibration: The calibration report, or ``None``.
    """

    operating_points: OperatingPoints | None = None
    calibration: Calibration | None = None
