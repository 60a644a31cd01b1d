"""The headline numbers of a kind of map, as a type: what each is and how reports name it
(:meth:`cxr_paper.scoring.kind_scores.KindScores.headline` reads one from a map kind's scores).

Results keep their string keys on disk (a :class:`Headline` is a ``str``, so JSON writes it as
its value and reads it back equal); code asks the type instead of spelling keys and labels.
"""

from __future__ import annotations

from enum import StrEnum

from cxr_paper.configuration.protocol import PAPER_PROTOCOL

#: The fixed protocol's overlap (IoBB > 0.1, the paper's Tables 2-3) and its key in results.
FIXED_OVERLAP = PAPER_PROTOCOL.overlap


def overlap_key(overlap: float) -> str:
    """How results key an overlap threshold ``T`` (``"0.1"`` ... ``"0.9"``).

    Args:
        overlap: An overlap threshold in ``(0, 1)``.

    Returns:
        Its key, one decimal.

    Examples:
        >>> overlap_key(0.1), overlap_key(0.5)
        ('0.1', '0.5')
    """
    return str(float(overlap))


FIXED_KEY = overlap_key(FIXED_OVERLAP)


class Headline(StrEnum):
    """A headline number; members in the order :meth:`LocalizationScores.headline` stacks them.

    Attributes:
        ACCURACY: Share of GT boxes hit at IoBB > T (the paper's).
        AFP: False positives per image at T.
        MAX_BOX_ACC_V2: wsolevaluation's MaxBoxAccV2.
        POINTING_GAME: Share of maps whose maximum falls in a GT box.
        CALIBRATED_ACCURACY: Accuracy at a heatmap threshold chosen on held-out images.

    Examples:
        >>> Headline.AFP.label, Headline("max_box_acc_v2").label
        ('false positives / image', 'MaxBoxAccV2')
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


_LABELS = {
    Headline.ACCURACY: "accuracy IoBB > 0.1",
    Headline.AFP: "false positives / image",
    Headline.MAX_BOX_ACC_V2: "MaxBoxAccV2",
    Headline.POINTING_GAME: "pointing game",
    Headline.CALIBRATED_ACCURACY: "calibrated accuracy",
}
HEADLINES: tuple[Headline, ...] = tuple(Headline)
