"""A run's 95 % intervals as types: one number's interval, a paired difference's, a model's
intervals per class and map kind, and the two kinds of difference (a map kind against the
model's CAM; one model against another), each a frozen dataclass that
:mod:`cxr_paper.files.typed_json` writes and reads (``metrics.json``'s ``intervals`` and
``paired``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cam_boxes_iobb import Intervals
from cxr_paper.files.typed_json import INLINE, from_json
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.map_kinds import MapKind

#: The key of the mean over classes in every per-class mapping.
MEAN = "mean"
#: The normal quantile of a two-sided 95 % interval.
Z = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    """A number on the test split as observed (``estimate``) and its percentile interval over
    ``resamples`` patient resamples (NaN where undefined; resamples where it was undefined are
    not counted).

    Attributes:
        estimate: The number on the test split as observed.
        low: Lower end of the percentile interval.
        high: Upper end.
        confidence: The interval's level, e.g. 0.95.
        resamples: Patient resamples the interval was computed on.

    Examples:
        >>> Interval.of(Intervals(*np.array([0.5, 0.4, 0.6, 0]), confidence=0.95, resamples=1000))
        Interval(estimate=0.5, low=0.4, high=0.6, confidence=0.95, resamples=1000)
    """

    estimate: float
    low: float
    high: float
    confidence: float
    resamples: int

    @classmethod
    def of(cls, intervals: Intervals, index: Any = ()) -> Interval:
        """Entry ``index`` of a bootstrap's :class:`~cam_boxes_iobb.Intervals`."""
        return from_json(cls, intervals.entry(index))

    @property
    def sd(self) -> float:
        """The sd a normal with this 95 % interval would have: ``(high - low) / (2 * 1.96)``."""
        return (self.high - self.low) / (2 * Z)

    @property
    def known(self) -> bool:
        """Whether the estimate is defined."""
        return not math.isnan(self.estimate)


@dataclass(frozen=True)
class Difference(Interval):
    """A paired difference's interval, and whether it excludes 0 (measurable).

    Attributes:
        excludes_zero: Whether ``[low, high]`` excludes 0 (besides :class:`Interval`'s fields).

    Examples:
        >>> d = Difference.of(Intervals(*np.array([0.1, 0.02, 0.2, 0]), 0.95, 1000))
        >>> d.excludes_zero, d.estimate
        (True, 0.1)
    """

    excludes_zero: bool

    @classmethod
    def of(cls, intervals: Intervals, index: Any = ()) -> Difference:
        excludes = bool(np.asarray(intervals.excludes_zero())[index])
        return from_json(cls, {**intervals.entry(index), "excludes_zero": excludes})


#: per class (and :data:`MEAN`), an interval
ByClass = dict[str, Interval]


@dataclass(frozen=True)
class ModelIntervals:
    """One model's intervals: AUROC per class, and per map kind each headline per box class.

    Attributes:
        auroc: Per class and :data:`MEAN`.
        localization: Per map kind, per headline, per box class and :data:`MEAN`.
    """

    auroc: dict[str, Interval]
    localization: dict[MapKind, dict[Headline, dict[str, Interval]]] = field(default_factory=dict)

    def headline(self, kind: str, headline: Headline, name: str = MEAN) -> Interval | None:
        """The interval of ``headline`` for class ``name`` of map kind ``kind``, if computed."""
        return self.localization.get(kind, {}).get(headline, {}).get(name)  # type: ignore[call-overload]


#: A map kind minus the model's CAM (``"pcm - cam"``): per headline, the difference of the means.
KindDifference = dict[Headline, Difference]


@dataclass(frozen=True)
class ModelDifference:
    """One model minus another on the same test images: the mean AUROC, and per map kind both
    have, every headline (written beside ``auroc``, as ``metrics.json`` has them).

    Attributes:
        auroc: Per class and :data:`MEAN`, this model minus the other.
        localization: Per map kind both have, per headline, the difference of the class means.
    """

    auroc: dict[str, Difference]
    localization: dict[MapKind, dict[Headline, Difference]] = field(
        default_factory=dict, metadata={INLINE: True}
    )

    @property
    def mean_auroc(self) -> Difference:
        return self.auroc[MEAN]
