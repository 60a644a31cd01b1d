"""The headline numbers of a kind of map, as a type: what each is, how reports name it, and where
a result (``metrics.json``'s ``localization`` entry of a map kind) holds it.

Results keep their string keys on disk (a :class:`Headline` is a ``str``, so JSON writes it as
its value and reads it back equal); code asks the type instead of spelling keys and labels.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from cxr_paper.configuration.protocol import PAPER_PROTOCOL

#: The fixed protocol's overlap (IoBB > 0.1, the paper's Tables 2-3) and its key in results.
FIXED_OVERLAP = PAPER_PROTOCOL.overlap


def overlap_key(overlap: float) -> str:
    """How results key an overlap threshold ``T`` (``"0.1"`` ... ``"0.9"``).

    Example:
        >>> overlap_key(0.1), overlap_key(0.5)
        ('0.1', '0.5')
    """
    return str(float(overlap))


FIXED_KEY = overlap_key(FIXED_OVERLAP)


class Headline(StrEnum):
    """A headline number; members in the order :meth:`LocalizationScores.headline` stacks them.

    Example:
        >>> Headline.AFP.label, Headline("max_box_acc_v2").label
        ('false positives / image', 'MaxBoxAccV2')
        >>> entry = {"iobb": {"0.1": {"mean": {"accuracy": 0.4, "afp": 1.2}}}}
        >>> Headline.ACCURACY.read(entry), Headline.AFP.read(entry)
        (0.4, 1.2)
    """

    ACCURACY = "accuracy"
    AFP = "afp"
    MAX_BOX_ACC_V2 = "max_box_acc_v2"
    POINTING_GAME = "pointing_game"
    CALIBRATED_ACCURACY = "calibrated_accuracy"

    @property
    def label(self) -> str:
        """How tables name it."""
        return _LABELS[self]

    def read(self, localization: dict[str, Any], name: str = "mean") -> float:
        """Its value for class ``name`` (or the ``"mean"``) in a map kind's results."""
        if self in (Headline.ACCURACY, Headline.AFP):
            return fixed_protocol(localization)[name][self.value]
        if self is Headline.MAX_BOX_ACC_V2:
            return localization["max_box_acc_v2"][name]["max_box_acc"]
        if self is Headline.POINTING_GAME:
            return localization["pointing_game"][name]["accuracy"]
        return localization["calibrated"]["accuracy"][name]


_LABELS = {
    Headline.ACCURACY: "accuracy IoBB > 0.1",
    Headline.AFP: "false positives / image",
    Headline.MAX_BOX_ACC_V2: "MaxBoxAccV2",
    Headline.POINTING_GAME: "pointing game",
    Headline.CALIBRATED_ACCURACY: "calibrated accuracy",
}
HEADLINES: tuple[Headline, ...] = tuple(Headline)


def fixed_protocol(localization: dict[str, Any]) -> dict[str, Any]:
    """``{class: {"accuracy", "afp", ...}}`` at the fixed protocol's overlap (IoBB > 0.1)."""
    return localization["iobb"][FIXED_KEY]
