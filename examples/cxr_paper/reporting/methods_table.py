"""The run report's comparison of localization methods: rows model x map kind, the headline
numbers as columns, and the caption that says what each column measures with the run's own
thresholds."""

from __future__ import annotations

from collections.abc import Sequence

from cxr_paper.configuration.protocol import PAPER_PROTOCOL, LocalizationProtocol
from cxr_paper.reporting.document import Table, make_table
from cxr_paper.reporting.markdown import kind_label, number, with_interval
from cxr_paper.scoring.headlines import Headline
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.model_metrics import ModelMetrics


def _cell(metrics: ModelMetrics, kind: MapKind, headline: Headline) -> str:
    """A headline's mean over the box classes, with its interval when the run computed one."""
    interval = metrics.intervals.headline(kind, headline)
    return (
        with_interval(interval)
        if interval
        else number(metrics.localization[kind].headline(headline))
    )


#: The methods table's headline columns, in order.
METHOD_COLUMNS = (
    Headline.ACCURACY,
    Headline.CALIBRATED_ACCURACY,
    Headline.MAX_BOX_ACC_V2,
    Headline.POINTING_GAME,
    Headline.AFP,
)


def methods_table(metrics: dict[str, ModelMetrics], protocol: LocalizationProtocol) -> Table:
    """Rows model × map kind; means over the 8 box classes.

    Args:
        metrics: Per model, its ``metrics.json`` entry.
        protocol: The run's Q, p and T.

    Returns:
        Rows model × map kind: accuracy, false positives, MaxBoxAccV2, pointing game, calibrated
        accuracy.
    """
    names = {
        Headline.ACCURACY: f"{Headline.ACCURACY.label} (Q = {protocol.heatmap_threshold:g})",
        Headline.CALIBRATED_ACCURACY: f"{Headline.CALIBRATED_ACCURACY.label} (threshold)",
    }
    header = ["model", "maps", *(names.get(h, h.label) for h in METHOD_COLUMNS), "s (test split)"]
    rows = []
    for model, result in metrics.items():
        seconds = result.cam_method_seconds
        for kind, scores in result.localization.items():
            method = kind.method
            cells = {h: _cell(result, kind, h) for h in METHOD_COLUMNS}
            if scores.calibrated is not None:
                cells[Headline.CALIBRATED_ACCURACY] += f" ({scores.calibrated.threshold:.2f})"
            rows.append(
                [
                    model,
                    kind_label(kind),
                    *(cells[h] for h in METHOD_COLUMNS),
                    f"{seconds[method]:.0f}" if method in seconds else "–",
                ]
            )
    return make_table(header, rows)


def methods_caption(
    pointing_tolerance: float, box_frame: Sequence[int], protocol: LocalizationProtocol
) -> str:
    """What the methods table's columns mean, with the run's thresholds and tolerance.

    Args:
        pointing_tolerance: The pointing game's tolerance in pixels.
        box_frame: ``(H, W)`` of the boxes' frame.
        protocol: The run's Q, p and T.

    Returns:
        Inline Markdown.
    """
    height, width = box_frame
    paper = (
        " (the paper's)"
        if protocol == PAPER_PROTOCOL
        else f" (the paper's: {PAPER_PROTOCOL.caption()})"
    )
    return (
        f"Fixed protocol: {protocol.caption()}{paper}. Calibrated: the heatmap threshold that "
        "maximises accuracy (fewest false positives among ties) on a seeded 20 % of the box "
        "images (split by patient), scored on the other 80 %. MaxBoxAccV2 (Choe et al. 2020; "
        "IoU ∈ {0.3, 0.5, 0.7}, best of 100 thresholds; each map resized to the input with "
        "cubic interpolation and min-max normalised, as wsolevaluation does) and the pointing "
        "game (Zhang et al. 2018; the map resized to the original image, the "
        f"{height} × {width} box frame, a hit within {pointing_tolerance:g} px of it) score "
        "every image's GT classes whatever the classifier predicted. Seconds: computing that "
        "method's maps over the test split (PCM refinement not included)."
    )
