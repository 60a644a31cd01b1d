"""``score.md`` (and the tables of ``report.html``) of a model scored by ``score_model.py``."""

from __future__ import annotations

from cxr_paper.configuration.protocol import LocalizationProtocol
from cxr_paper.reporting.document import Document, literal, make_table
from cxr_paper.reporting.headline_table import results_section
from cxr_paper.reporting.markdown import number, with_interval
from cxr_paper.scoring.chexlocalize_protocol import CheXlocalizeScores
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.interval_types import MEAN
from cxr_paper.scoring.map_kinds import MapKind
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
    doc.heading(heading).table(["maps", *box_classes], rows)
    for kind, scores in entry.chexlocalize.items():
        doc.add(chexlocalize_table(kind, scores))
    return doc


def chexlocalize_table(kind: MapKind, scores: CheXlocalizeScores) -> Document:
    """One map kind under CheXlocalize's protocol: per pathology the threshold tuned on the
    validation segmentations, the test mIoU at it and at Otsu's, and the test hit rate.

    Args:
        kind: The map kind.
        scores: Its scores.

    Returns:
        A heading, the table and what it was computed on.
    """
    doc = Document().heading(f"CheXlocalize's protocol — {kind.label}")
    rows = [
        [
            literal(name),
            number(scores.thresholds[name], 1) if name in scores.thresholds else "",
            with_interval(scores.miou[name]),
            with_interval(scores.miou_otsu[name]),
            with_interval(scores.hit_rate[name]),
        ]
        for name in scores.miou
    ]
    header = ["pathology", "threshold (val)", "mIoU", "mIoU, Otsu", "hit rate"]
    doc.add(make_table(header, rows))
    return doc.paragraph(
        f"Thresholds tuned on {scores.val_images} validation CXRs (the best of 0.2 ... 0.8 by "
        f"mIoU, as tune_heatmap_threshold.py); scored on {scores.test_images} test CXRs with a "
        "segmentation; mIoU over pairs with a predicted and a GT segmentation (true_pos_only), "
        "hit rate: the map's maximum inside the GT segmentation; 95 % intervals over test "
        "patients."
    )
