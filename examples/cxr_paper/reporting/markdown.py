"""How reports write a cell: numbers, numbers with their intervals, map kinds (the blocks that
hold them are :mod:`cxr_paper.reporting.document`'s)."""

from __future__ import annotations

import math

from cxr_paper.scoring.interval_types import Difference, Interval
from cxr_paper.scoring.map_kinds import MapKind

#: Marks a paired difference whose 95 % interval excludes 0.
MEASURABLE = "✓"


def number(value: float | None, digits: int = 3) -> str:
    """``0.123``; ``–`` for a missing or undefined value.

    Args:
        value: A number, NaN or ``None``.
        digits: Decimals.

    Returns:
        The text.

    Examples:
        >>> number(0.12345), number(float("nan")), number(None)
        ('0.123', '–', '–')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def with_interval(interval: Interval | None, signed: bool = False, mark: bool = True) -> str:
    """An interval as ``0.275 [0.221, 0.330]``; a paired difference (``signed``) gets a sign and,
    with ``mark``, :data:`MEASURABLE` when its interval excludes 0.

    Args:
        interval: The interval, or ``None`` (``–``).
        signed: Show signs (a difference).
        mark: Mark a difference whose interval excludes 0.

    Returns:
        The text.

    Examples:
        >>> with_interval(Interval(0.5, 0.41, 0.6, 0.95, 1000))
        '0.500 [0.410, 0.600]'
        >>> with_interval(Difference(0.1, 0.02, 0.2, 0.95, 1000, excludes_zero=True), True)
        '+0.100 [+0.020, +0.200] ✓'
    """
    if interval is None or not interval.known:
        return "–"
    sign = "+" if signed else ""

    def show(value: float) -> str:
        return "–" if number(value) == "–" else f"{value:{sign}.3f}"

    text = f"{show(interval.estimate)} [{show(interval.low)}, {show(interval.high)}]"
    measurable = mark and isinstance(interval, Difference) and interval.excludes_zero
    return text + (f" {MEASURABLE}" if measurable else "")


def kind_label(kind: str) -> str:
    """How a map kind (``TestResult.localization``'s keys) is named in tables and switches
    (:attr:`cxr_paper.scoring.map_kinds.MapKind.label`).

    Args:
        kind: A map kind's key.

    Returns:
        Its label.

    Examples:
        >>> kind_label("pcm"), kind_label("gradcam++"), kind_label("hirescam+pcm")
        ('CAM + PCM', 'gradcam++', 'hirescam + PCM')
    """
    return MapKind.parse(kind).label
