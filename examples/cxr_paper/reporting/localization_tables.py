"""Tables 2 and 3 (the paper's localization numbers beside ours), the localization methods
compared and the paired differences: the report's localization part, for a task with boxes."""

from __future__ import annotations

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.paper_numbers import (
    TABLE2_ACCURACY,
    TABLE3_AFP,
    paper_applies,
    paper_row,
)
from cxr_paper.configuration.protocol import LocalizationProtocol
from cxr_paper.reporting.data_notes import DataNotes
from cxr_paper.reporting.document import Document, Table, make_table
from cxr_paper.reporting.markdown import number, with_interval
from cxr_paper.reporting.methods_table import methods_caption, methods_table
from cxr_paper.reporting.noise_report import paired_section
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.interval_types import MEAN, Interval
from cxr_paper.scoring.map_kinds import OWN_CAM, MapKind
from cxr_paper.scoring.model_metrics import ModelMetrics


def _ours(interval: Interval | None, value: float) -> str:
    """The value with its interval when the run computed one."""
    return with_interval(interval) if interval else number(value)


def localization_table(
    metrics: dict[str, ModelMetrics], headline: Headline, published: dict
) -> Table:
    """Each model's CAM and CAM + PCM rows of one headline per box class, with the paper's
    rows beside them where the task is ChestX-ray14's.

    Args:
        metrics: Per model, its ``metrics.json`` entry.
        headline: The number shown.
        published: The paper's rows, by ``(model, refined)``.

    Returns:
        The table.
    """
    task = next(iter(metrics.values())).task
    box_classes = list(task.box_classes)
    if not paper_applies(task.classes, task.box_classes):
        published = {}
    header = ["Method", *box_classes, MEAN]
    rows = []
    for model, result in metrics.items():
        for kind, label in ((MapKind(OWN_CAM), ""), (MapKind(OWN_CAM, True), " (with PCM)")):
            scores = result.localization[kind]
            rows.append(
                [
                    f"{model}{label} — ours",
                    *(
                        _ours(
                            result.intervals.headline(kind, headline, c),
                            scores.headline(headline, c),
                        )
                        for c in [*box_classes, MEAN]
                    ),
                ]
            )
            key = (paper_row(model), kind.refined)
            if key in published:
                paper = published[key]
                rows.append(
                    [
                        f"{paper_row(model)}{label} — paper",
                        *(number(v) for v in paper),
                        number(sum(paper) / len(paper)),
                    ]
                )
    return make_table(header, rows)


def localization_sections(
    doc: Document, metrics: dict[str, ModelMetrics], config: RunConfig, notes: DataNotes
) -> None:
    """Tables 2-3, the methods compared and the paired differences, added to ``doc``.

    Args:
        doc: The report.
        metrics: Per model, its ``metrics.json`` entry.
        config: The run's settings.
        notes: What the tables were computed on.
    """
    doc.heading("Table 2 — localization accuracy, IoBB > 0.1")
    doc.add(localization_table(metrics, Headline.ACCURACY, TABLE2_ACCURACY))
    doc.paragraph(notes.localization_caption)
    doc.heading("Table 3 — average false positives, IoBB 0.1")
    doc.add(localization_table(metrics, Headline.AFP, TABLE3_AFP))
    doc.paragraph(notes.localization_caption)
    protocol = LocalizationProtocol.of(config)
    doc.heading("Localization methods compared").add(methods_table(metrics, protocol))
    doc.paragraph(
        methods_caption(config.pointing_tolerance, config.box_frame, protocol)
        + " "
        + notes.localization_caption
    )
    doc.add(paired_section(metrics))
