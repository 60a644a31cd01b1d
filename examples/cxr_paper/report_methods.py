"""The report's comparison of localization methods: every map kind of every model, scored by the
fixed protocol, the calibrated threshold and the threshold-free metrics."""

from __future__ import annotations

import math
from typing import Any


def _f(value: float | None) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
    )


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
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, result in metrics.items():
        seconds = result.get("cam_method_seconds", {})
        for variant, scores in result["localization"].items():
            fixed = scores["iobb"]["0.1"]["mean"]
            calibrated = scores["calibrated"]
            method = variant.removesuffix("+pcm") if variant != "pcm" else "cam"
            cells = [
                model,
                {"cam": "CAM", "pcm": "CAM + PCM"}.get(variant, variant.replace("+pcm", " + PCM")),
                _f(fixed["accuracy"]),
                f"{_f(calibrated['accuracy']['mean'])} ({calibrated['threshold']:.2f})",
                _f(scores["max_box_acc_v2"]["mean"]["max_box_acc"]),
                _f(scores["pointing_game"]["mean"]["accuracy"]),
                _f(fixed["afp"]),
                f"{seconds[method]:.0f}" if method in seconds else "–",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


METHODS_CAPTION = (
    "Fixed protocol: the paper's (heatmap ≥ Q = 0.7, classes predicted above p = 0.5, IoBB > 0.1). "
    "Calibrated: the heatmap threshold that maximises accuracy (fewest false positives among "
    "ties) on a seeded 20 % of the box images (split by patient), scored on the other 80 %. "
    "MaxBoxAccV2 (Choe et al. 2020; IoU ∈ {0.3, 0.5, 0.7}, best threshold) and the pointing game "
    "(Zhang et al. 2018) score every image's GT classes whatever the classifier predicted. "
    "Seconds: computing that method's maps over the test split (PCM refinement not included)."
)
