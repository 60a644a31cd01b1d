"""The report's section on ``--score-on``: each model scored on other data sets' annotations."""

from __future__ import annotations

from cxr_paper.reporting.document import Document, literal, make_table
from cxr_paper.reporting.markdown import with_interval
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.interval_types import MEAN
from cxr_paper.scoring.map_kinds import OWN_CAM, MapKind
from cxr_paper.scoring.model_metrics import ModelScore


def elsewhere_section(
    scores: dict[str, dict[str, ModelScore]], folders: dict[str, dict[str, str]]
) -> Document | None:
    """Per set and model: mean AUROC and the CAM's and CAM + PCM's accuracy with their
    intervals, the classes scored and left out, and where the full score is.

    Args:
        scores: Per ``--score-on`` entry, per model, its score.
        folders: Per entry, per model, its folder relative to the run (``score_on/...``).

    Returns:
        The section, or ``None`` without ``--score-on``.
    """
    if not scores:
        return None
    doc = Document().heading("Scored on other data sets (`--score-on`)")
    rows = []
    for spec, by_model in scores.items():
        for model, entry in by_model.items():
            accuracy = [
                with_interval(
                    entry.intervals.headline(MapKind(OWN_CAM, refined), Headline.ACCURACY)
                )
                for refined in (False, True)
            ]
            rows.append(
                [
                    literal(entry.task.name),
                    model,
                    with_interval(entry.intervals.auroc.get(MEAN)),
                    *accuracy,
                    f"{len(entry.task.classes)} ({len(entry.task.box_classes)} with boxes)",
                    ", ".join(map(literal, entry.unscored_classes)) or "–",
                    literal(f"{folders[spec][model]}/score.md"),
                ]
            )
    header = [
        "data",
        "model",
        "mean AUROC",
        "accuracy, CAM",
        "accuracy, CAM + PCM",
        "classes scored",
        "not scored (no counterpart)",
        "full score",
    ]
    doc.add(make_table(header, rows))
    entries = [entry for by_model in scores.values() for entry in by_model.values()]
    cautions = sorted({caution for entry in entries for caution in entry.cautions})
    doc.paragraph(
        "Each set's test split, as a run on it would draw it; the models' classes are mapped to "
        "the set's through the vocabulary (several counterparts: the maximum of them, named in "
        "each score.md). " + " ".join(f"**Caution**: {c}" for c in cautions)
    )
    benchmark = [
        f"{model}, {kind.label}: mIoU {with_interval(result.miou[MEAN])}, hit rate "
        f"{with_interval(result.hit_rate[MEAN])} (thresholds tuned on {result.val_images} "
        f"validation CXRs; {result.test_images} test CXRs)"
        for by_model in scores.values()
        for model, entry in by_model.items()
        for kind, result in entry.chexlocalize.items()
    ]
    if benchmark:
        doc.paragraph(
            "CheXlocalize's protocol, mean over its pathologies (each score.md has them per "
            "pathology, with the mIoU at Otsu's threshold):"
        )
        doc.bullets(benchmark)
    return doc
