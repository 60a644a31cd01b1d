"""``score.md`` (and the tables of ``report.html``) of a model scored by ``score_model.py``."""

from __future__ import annotations

from cxr_paper.configuration.protocol import LocalizationProtocol
from cxr_paper.reporting.document import Document, literal
from cxr_paper.reporting.headline_table import results_section
from cxr_paper.reporting.markdown import number
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.interval_types import MEAN
from cxr_paper.scoring.model_metrics import ModelScore


def score_document(entry: ModelScore, protocol: LocalizationProtocol) -> Document:
    """``score.md`` and the tables of ``report.html``: what was scored, the headline numbers
    with their intervals, the accuracy per class.

    Args:
        entry: What ``score.json`` holds.
        protocol: The Q, p and T scored with.

    Returns:
        The document.
    """
    # the model's path, the data's description and the task's names come from the user and
    # from files: text, never markup
    doc = Document().heading(f"{literal(entry.model)} on {literal(entry.task.name)}'s boxes", 1)
    doc.bullets(
        [
            f"Model: {entry.description}; input {entry.image_size} px",
            f"Data: {literal(entry.data)}; {entry.localization_images} test images with boxes",
            f"Localization: the ChestX-ray8 protocol ({protocol.caption()}), MaxBoxAccV2 and "
            "the pointing game; 95 % intervals resample the test "
            "patients: they cover test-set noise, not how another training of the model would "
            "score.",
            f"The model has no output for {', '.join(map(literal, entry.missing_classes))} "
            "(logit 0)."
            if entry.missing_classes
            else "",
            f"Not scored (no counterpart among the model's classes): "
            f"{', '.join(map(literal, entry.unscored_classes))}."
            if entry.unscored_classes
            else "",
            *(
                f"{literal(name)} scored as the maximum of the model's "
                f"{', '.join(map(literal, parts))}."
                for name, parts in entry.scored_as.items()
            ),
            *(f"**Caution**: {caution}" for caution in entry.cautions),
        ]
    )
    doc.heading("Headline").add(results_section(entry.intervals))
    box_classes = [*entry.task.box_classes, MEAN]
    rows = [
        [kind.label] + [number(scores.headline(Headline.ACCURACY, c)) for c in box_classes]
        for kind, scores in entry.localization.items()
    ]
    heading = f"Accuracy at IoBB > {protocol.overlap:g} per class"
    return doc.heading(heading).table(["maps", *box_classes], rows)
