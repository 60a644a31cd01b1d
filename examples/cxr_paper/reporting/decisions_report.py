"""Operating points and calibration as the report and the model card show them (report
blocks), and the reliability diagram."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from cxr_paper.files.atomic import atomic_write
from cxr_paper.reporting.document import Document, Table, make_table
from cxr_paper.reporting.markdown import number, with_interval


def operating_table(entry: dict[str, Any]) -> Table:
    """One model's thresholds and the test sensitivity/specificity at them."""
    points = entry["operating_points"]
    rows = [
        [
            name,
            number(points["thresholds"][name]) + ("" if points["chosen"][name] else " (fallback)"),
            with_interval(points["test"][name]["sensitivity"]),
            with_interval(points["test"][name]["specificity"]),
        ]
        for name in points["thresholds"]
    ]
    return make_table(["class", "threshold", "test sensitivity", "test specificity"], rows)


def calibration_table(metrics: dict[str, dict[str, Any]]) -> Table:
    """ECE over all classes per model, before and (if fitted) after temperature scaling."""
    rows = []
    for model, entry in metrics.items():
        if "calibration" not in entry:
            continue
        calibration = entry["calibration"]
        after = calibration["after"]
        rows.append(
            [
                model,
                with_interval(calibration["before"]["ece"]["all"]),
                _temperature(calibration) if after else "not fitted",
                with_interval(after["ece"]["all"]) if after else "–",
            ]
        )
    return make_table(["model", "ECE", "temperature T", "ECE after scaling"], rows)


def decisions_section(
    metrics: dict[str, dict[str, Any]], config: dict[str, Any]
) -> Document | None:
    """The report's section: per model its operating points, then calibration."""
    if not any("operating_points" in entry for entry in metrics.values()):
        return None
    doc = Document().heading("Operating points and calibration (the saved model's decisions)")
    doc.paragraph(
        f"Per class, the probability threshold chosen on the validation split by "
        f"`--operating-point {config['operating_point']}`, stored in each saved model's "
        "`config.json` and used by `predict.py`; sensitivity and specificity at it on the test "
        "split with 95 % intervals (patients resampled; the thresholds held fixed). A class with "
        f"no positive or no negative on validation keeps p = {config['prob_threshold']} "
        "(fallback). The localization tables above keep the paper's p = "
        f"{config['prob_threshold']}."
    )
    for model, entry in metrics.items():
        if "operating_points" in entry:
            doc.heading(model, 3).add(operating_table(entry))
    doc.heading("Calibration", 3).paragraph(
        "Expected calibration error (15 equal-width bins, every image and class pooled) on the "
        "test split, 95 % intervals with patients resampled; temperature scaling "
        "(`--temperature-scaling`) fits one T on validation and changes no ranking."
    )
    return doc.add(calibration_table(metrics))


def plot_reliability(metrics: dict[str, dict[str, Any]], path: Path) -> Path:
    """Reliability diagrams: per model, the share of positives against the mean probability in
    each bin (95 % intervals as bars), before and after temperature scaling."""
    import matplotlib  # here: the tables (the model card, predict.py) need no plotting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m, entry in metrics.items() if "calibration" in entry]
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 5), squeeze=False)
    for axis, model in zip(axes[0], models, strict=True):
        calibration = metrics[model]["calibration"]
        parts = {"before": calibration["before"], "after": calibration["after"]}
        for label, part in parts.items():
            if not part:
                continue
            points = [p for p in part["curve"] if p["count"] and _known(p["observed"]["estimate"])]
            x = np.array([p["confidence"]["estimate"] for p in points])
            y = np.array([p["observed"]["estimate"] for p in points])
            low = np.array([_or_nan(p["observed"]["low"]) for p in points])
            high = np.array([_or_nan(p["observed"]["high"]) for p in points])
            ece = number(part["ece"]["all"]["estimate"])
            name = "raw" if label == "before" else f"T = {calibration['temperature']:.2f}"
            axis.errorbar(
                x, y, yerr=[y - low, high - y], marker="o", capsize=3, label=f"{name}, ECE {ece}"
            )
        axis.plot([0, 1], [0, 1], "k--", lw=0.8)
        axis.set(
            title=model,
            xlabel="mean predicted probability (bin)",
            ylabel="share positive",
            xlim=(0, 1),
            ylim=(0, 1),
        )
        axis.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=110))
    plt.close(fig)
    return path


def _temperature(calibration: dict[str, Any]) -> str:
    text = f"{calibration['temperature']:.3f}"
    if calibration.get("temperature_at_bound"):
        text += " (at the search bound: one temperature cannot calibrate these)"
    return text


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _or_nan(value: float | None) -> float:
    return float("nan") if value is None else value
