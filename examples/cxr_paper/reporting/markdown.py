"""How reports write a cell: numbers, numbers with their intervals, map kinds (the blocks that
hold them are :mod:`cxr_paper.reporting.document`'s)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cxr_paper.scoring.map_kinds import MapKind

#: Marks a paired difference whose 95 % interval excludes 0.
MEASURABLE = "✓"


def number(value: float | None, digits: int = 3) -> str:
    """``0.123``; ``–`` for a missing or undefined value.

    Example:
        >>> number(0.12345), number(float("nan")), number(None)
        ('0.123', '–', '–')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def with_interval(entry: Mapping[str, Any] | None, signed: bool = False) -> str:
    """An interval entry (``estimate``, ``low``, ``high``) as ``0.275 [0.221, 0.330]``; a paired
    difference (``signed``) gets a sign and :data:`MEASURABLE` when its interval excludes 0.

    Example:
        >>> with_interval({"estimate": 0.5, "low": 0.41, "high": 0.6})
        '0.500 [0.410, 0.600]'
        >>> with_interval({"estimate": 0.1, "low": 0.02, "high": 0.2, "excludes_zero": True}, True)
        '+0.100 [+0.020, +0.200] ✓'
    """
    if not entry or number(entry.get("estimate")) == "–":  # None, or NaN read back from null
        return "–"
    sign = "+" if signed else ""

    def show(value: float | None) -> str:
        return "–" if number(value) == "–" else f"{value:{sign}.3f}"

    text = f"{show(entry['estimate'])} [{show(entry['low'])}, {show(entry['high'])}]"
    return text + (f" {MEASURABLE}" if entry.get("excludes_zero") else "")


def kind_label(kind: str) -> str:
    """How a map kind (``TestResult.localization``'s keys) is named in tables and switches
    (:attr:`cxr_paper.scoring.map_kinds.MapKind.label`).

    Example:
        >>> kind_label("pcm"), kind_label("gradcam++"), kind_label("hirescam+pcm")
        ('CAM + PCM', 'gradcam++', 'hirescam + PCM')
    """
    return MapKind.parse(kind).label
