"""Operating points and calibration as the report and the model card show them (report
blocks), and the reliability diagram."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cxr_paper.configuration.config import RunConfig
from cxr_paper.files.atomic import atomic_write
from cxr_paper.reporting.document import Document, Table, make_table
from cxr_paper.reporting.markdown import number, with_interval
from cxr_paper.scoring.decision_types import ALL_CLASSES, Calibration, OperatingPoints
from cxr_paper.scoring.model_metrics import ModelMetrics


def operating_table(points: OperatingPoints) -> Table:
    """One model's thresholds and the test sensitivity/specificity at them.

    Args:
        points: The model's operating points.

    Returns:
        Rows per class: threshold, whether the rule chose it, sensitivity, specificity.
    """
    rows = [
        [
            name,
            number(threshold) + ("" if points.chosen[name] else " (fallback)"),
            with_interval(points.test[name].sensitivity),
            with_interval(points.test[name].specificity),
        ]
        for name, threshold in points.thresholds.items()
    ]
    return make_table(["class", "threshold", "test sensitivity", "test specificity"], rows)


def calibration_table(metrics: dict[str, ModelMetrics]) -> Table:
    """ECE over all classes per model, before and (if fitted) after temperature scaling.

    Args:
        metrics: Per model, its ``metrics.json`` entry.

    Returns:
        Rows per model.
    """
    rows = []
    for model, entry in metrics.items():
        calibration = entry.calibration
        if calibration is None:
            continue
        after = calibration.after
        rows.append(
            [
                model,
                with_interval(calibration.before.ece[ALL_CLASSES]),
                _temperature(calibration) if after else "not fitted",
                with_interval(after.ece[ALL_CLASSES]) if after else "–",
            ]
        )
    return make_table(["model", "ECE", "temperature T", "ECE after scaling"], rows)


def decisions_section(metrics: dict[str, ModelMetrics], config: RunConfig) -> Document | None:
    """The report's section: per model its operating points, then calibration.

    Args:
        metrics: Per model, its ``metrics.json`` entry.
        config: The run's settings (the rule's text).

    Returns:
        The section, or ``None`` when no model has decisions.
    """
    if all(entry.operating_points is None for entry in metrics.values()):
        return None
    doc = Document().heading("Operating points and calibration (the saved model's decisions)")
    doc.paragraph(
        f"Per class, the probability threshold chosen on the validation split by "
        f"`--operating-point {config.operating_point}`, stored in each saved model's "
        "`config.json` and used by `predict.py`; sensitivity and specificity at it on the test "
        "split with 95 % intervals (patients resampled; the thresholds held fixed). A class with "
        f"no positive or no negative on validation keeps p = {config.prob_threshold} "
        "(fallback). The localization tables above keep the paper's p = "
        f"{config.prob_threshold}."
    )
    for model, entry in metrics.items():
        if entry.operating_points is not None:
            doc.heading(model, 3).add(operating_table(entry.operating_points))
    doc.heading("Calibration", 3).paragraph(
        "Expected calibration error (15 equal-width bins, every image and class pooled) on the "
        "test split, 95 % intervals with patients resampled; temperature scaling "
        "(`--temperature-scaling`) fits one T on validation and changes no ranking."
    )
    return doc.add(calibration_table(metrics))


def plot_reliability(metrics: dict[str, ModelMetrics], path: Path) -> Path:
    """Reliability diagrams: per model, the share of positives against the mean probability in
    each bin (95 % intervals as bars), before and after temperature scaling.

    Args:
        metrics: Per model, its ``metrics.json`` entry.
        path: The PNG to write.

    Returns:
        ``path``.
    """
    import matplotlib  # here: the tables (the model card, predict.py) need no plotting

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    calibrated = {m: e.calibration for m, e in metrics.items() if e.calibration is not None}
    fig, axes = plt.subplots(1, len(calibrated), figsize=(5 * len(calibrated), 5), squeeze=False)
    for axis, (model, calibration) in zip(axes[0], calibrated.items(), strict=True):
        for label, part in {"before": calibration.before, "after": calibration.after}.items():
            if part is None:
                continue
            points = [p for p in part.curve if p.count and p.observed.known]
            x = np.array([p.confidence.estimate for p in points])
            y = np.array([p.observed.estimate for p in points])
            low = np.array([p.observed.low for p in points])
            high = np.array([p.observed.high for p in points])
            ece = number(part.ece[ALL_CLASSES].estimate)
            name = "raw" if label == "before" else f"T = {calibration.temperature:.2f}"
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


def _temperature(calibration: Calibration) -> str:
    text = f"{calibration.temperature:.3f}"
    if calibration.temperature_at_bound:
        text += " (at the search bound: one temperature cannot calibrate these)"
    return text
