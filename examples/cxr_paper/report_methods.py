"""The report's comparison of localization methods: every map kind of every model, scored by the
fixed protocol, the calibrated threshold and the threshold-free metrics."""

from __future__ import annotations

from typing import Any

from .markdown import number, table, with_interval


def _cell(intervals: dict[str, Any], headline: str, value: float) -> str:
    entry = intervals.get(headline, {}).get("mean")
    return with_interval(entry) if entry else number(value)


def methods_table(metrics: dict[str, Any]) -> str:
    """Rows model × map kind; means over the 8 box classes."""
    header = [
        "model",
        "maps",
        "accuracy IoBB > 0.1 (Q = 0.7)",
        "calibrated accuracy (threshold)",
        "MaxBoxAccV2",
        "pointing game",
        "false positives / image",
        "s (test split)",
    ]
    rows = []
    for model, result in metrics.items():
        seconds = result.get("cam_method_seconds", {})
        for variant, scores in result["localization"].items():
            intervals = result.get("intervals", {}).get("localization", {}).get(variant, {})
            fixed = scores["iobb"]["0.1"]["mean"]
            calibrated = scores["calibrated"]
            method = variant.removesuffix("+pcm") if variant != "pcm" else "cam"
            calibrated_cell = _cell(
                intervals, "calibrated_accuracy", calibrated["accuracy"]["mean"]
            )
            rows.append(
                [
                    model,
                    {"cam": "CAM", "pcm": "CAM + PCM"}.get(
                        variant, variant.replace("+pcm", " + PCM")
                    ),
                    _cell(intervals, "accuracy", fixed["accuracy"]),
                    f"{calibrated_cell} ({calibrated['threshold']:.2f})",
                    _cell(
                        intervals,
                        "max_box_acc_v2",
                        scores["max_box_acc_v2"]["mean"]["max_box_acc"],
                    ),
                    _cell(intervals, "pointing_game", scores["pointing_game"]["mean"]["accuracy"]),
                    _cell(intervals, "afp", fixed["afp"]),
                    f"{seconds[method]:.0f}" if method in seconds else "–",
                ]
            )
    return table(header, rows)


def methods_caption(pointing_tolerance: float, box_frame: list[int]) -> str:
    """What the methods table's columns mean, with the run's pointing-game tolerance."""
    height, width = box_frame
    return (
        "Fixed protocol: the paper's (heatmap ≥ Q = 0.7, classes predicted above p = 0.5, IoBB > "
        "0.1). Calibrated: the heatmap threshold that maximises accuracy (fewest false positives "
        "among ties) on a seeded 20 % of the box images (split by patient), scored on the other "
        "80 %. MaxBoxAccV2 (Choe et al. 2020; IoU ∈ {0.3, 0.5, 0.7}, best of 100 thresholds; each "
        "map resized to the input with cubic interpolation and min-max normalised, as "
        "wsolevaluation does) and the pointing game (Zhang et al. 2018; the map resized to the "
        f"original image, the {height} × {width} box frame, a hit within {pointing_tolerance:g} px "
        "of it) score every image's GT classes whatever the classifier predicted. Seconds: "
        "computing that method's maps over the test split (PCM refinement not included)."
    )
