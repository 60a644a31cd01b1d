"""A model's headline numbers with their intervals, as the model card and ``score.md`` show them."""

from __future__ import annotations

from cxr_paper.reporting.document import Document, Table, make_table
from cxr_paper.reporting.markdown import with_interval
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.interval_types import MEAN, ModelIntervals


def results_section(intervals: ModelIntervals | None) -> Document:
    """The card's results: :func:`results_table`, or that none were recorded.

    Args:
        intervals: The model's intervals, or ``None``.

    Returns:
        The section.
    """
    table = results_table(intervals) if intervals else None
    return Document().add(table) if table else Document().paragraph("Not recorded.")


def results_table(intervals: ModelIntervals) -> Table:
    """A model's headline numbers with their intervals.

    Args:
        intervals: The model's intervals.

    Returns:
        Rows AUROC and, per map kind, each headline's mean with its interval.
    """
    rows = [
        [
            f"mean AUROC, {len(intervals.auroc) - 1} classes",
            with_interval(intervals.auroc.get(MEAN)),
        ]
    ]
    shown = (Headline.ACCURACY, Headline.AFP, Headline.MAX_BOX_ACC_V2, Headline.POINTING_GAME)
    for kind in intervals.localization:
        for headline in shown:
            interval = intervals.headline(kind, headline)
            rows.append([f"{headline.label}, {kind.label}", with_interval(interval)])
    header = ["number (localization: mean over the box classes)", "estimate [95 % interval]"]
    return make_table(header, rows)
