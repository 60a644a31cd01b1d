"""Figures 5-7 of the paper as matplotlib PNGs."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import roc_curve

from cam_boxes_iobb import overlay
from cxr14_data import denormalize
from cxr_paper.configuration.protocol import LocalizationProtocol
from cxr_paper.files.atomic import atomic_write
from cxr_paper.learning.pcm_training import SEAM_TERMS
from cxr_paper.scoring.interval_types import MEAN
from cxr_paper.scoring.model_metrics import History, ModelMetrics


def seam_terms_shown(history: History) -> list[str]:
    """The SEAM terms Fig. 5 draws for one model: those the history holds and that were not 0.

    Args:
        history: One model's training history.

    Returns:
        Term names, in :data:`~cxr_paper.learning.pcm_training.SEAM_TERMS`' order.

    Examples:
        >>> seam_terms_shown({"msml": [0.7], "ecr": [0.2], "er": [0.0], "min_pool": [0.1]})
        ['msml', 'ecr', 'min_pool']
    """
    return [t for t in SEAM_TERMS if any(v != 0 for v in history.get(t, []))]


def plot_losses(histories: dict[str, History], path: Path) -> Path:
    """Fig. 5: training and validation loss per epoch, then each SEAM term of the PCM stage
    (:data:`~cxr_paper.learning.pcm_training.SEAM_TERMS`, each unweighted; a term that stayed 0,
    such as one the objective does not use, is left out).

    Args:
        histories: Per model, its training history.
        path: The PNG to write.

    Returns:
        ``path``.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    styles = ("-", "--", ":", "-.")
    for name, history in histories.items():
        epochs = np.arange(1, len(history.get("train_loss", [])) + 1)
        axes[0].plot(epochs, history.get("train_loss", []), marker="o", label=name)
        axes[1].plot(epochs, history.get("val_loss", []), marker="o", label=name)
        terms = seam_terms_shown(history)
        colour = None
        for term, style in zip(terms, itertools.cycle(styles), strict=False):
            values = history[term]
            stage2 = np.arange(len(epochs) + 1, len(epochs) + 1 + len(values))
            (line,) = axes[2].plot(
                stage2, values, marker=".", ls=style, color=colour, label=f"{name} {term.upper()}"
            )
            colour = line.get_color()
    titles = (
        "(a) training loss (weighted BCE)",
        "(b) validation loss",
        "(c) PCM stage: each SEAM term (MSML solid, ECR dashed, ...)",
    )
    for axis, title in zip(axes, titles, strict=True):
        axis.set(title=title, xlabel="epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=110))
    plt.close(fig)
    return path


def plot_threshold_curves(
    metrics: dict[str, ModelMetrics], path: Path, protocol: LocalizationProtocol
) -> Path:
    """Mean accuracy at the headline overlap over the heatmap threshold, per model and map kind
    (the run's Q dashed).

    Args:
        metrics: Per model, its ``metrics.json`` entry.
        path: The PNG to write.
        protocol: The run's Q, p and T.

    Returns:
        ``path``.
    """
    fig, axis = plt.subplots(figsize=(7, 4.5))
    for model, result in metrics.items():
        for kind, scores in result.localization.items():
            curve = scores.threshold_curve
            if curve is not None:
                axis.plot(
                    curve.thresholds, curve.accuracy[MEAN], marker=".", label=f"{model} {kind}"
                )
    axis.axvline(protocol.heatmap_threshold, color="k", lw=0.8, ls="--")
    axis.set(
        title=f"Accuracy at IoBB > {protocol.overlap:g} over the heatmap threshold "
        f"(this run's Q = {protocol.heatmap_threshold:g}, dashed)",
        xlabel="heatmap threshold",
        ylabel=f"mean accuracy, {len(next(iter(metrics.values())).task.box_classes)} box classes",
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=110))
    plt.close(fig)
    return path


def plot_roc(
    labels: np.ndarray, probs: np.ndarray, auroc: dict[str, float], title: str, path: Path
) -> Path:
    """Fig. 6: ROC curve per class.

    Args:
        labels: Float array ``(N, K)`` of 0/1 labels (NaN: unknown).
        probs: Float array ``(N, K)``.
        auroc: Per class, its AUROC (for the legend).
        title: The figure's title.
        path: The PNG to write.

    Returns:
        ``path``.
    """
    fig, axis = plt.subplots(figsize=(7, 7))
    for i, name in enumerate(n for n in auroc if n != "mean"):  # the task's classes, in order
        known = ~np.isnan(labels[:, i])  # U-Ignore's uncertain labels are left out
        column, scores = labels[known, i], probs[known, i]
        if 0 < column.sum() < len(column):
            fpr, tpr, _ = roc_curve(column, scores)
            axis.plot(fpr, tpr, lw=1.3, label=f"{name} ({auroc[name]:.3f})")
    axis.plot([0, 1], [0, 1], "k--", lw=0.8)
    axis.set(
        title=f"{title}: mean AUROC {auroc['mean']:.3f}",
        xlabel="false positive rate",
        ylabel="true positive rate",
    )
    if axis.get_legend_handles_labels()[0]:  # a class with one label value draws no curve
        axis.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=110))
    plt.close(fig)
    return path


def plot_heatmap_grid(
    columns: list[tuple[str, str, dict[str, Any]]], names: list[str], path: Path
) -> Path:
    """Fig. 7: per test image (rows), one model/kind per column: heatmap of the GT class,
    GT boxes green, predicted boxes red.

    Args:
        columns: ``(title, map kind, examples)`` per column; ``examples`` per image name its
            ``image`` ``(3, H, W)``, ``gt`` boxes and per map kind its ``heatmaps``, ``boxes`` and
            ``probs``.
        names: The images, one per row.
        path: The PNG to write.

    Returns:
        ``path``.
    """
    rows = [n for n in names if all(n in examples for _, _, examples in columns)]
    if not rows:
        return path
    fig, axes = plt.subplots(
        len(rows), len(columns), figsize=(3.2 * len(columns), 3.4 * len(rows)), squeeze=False
    )
    for r, name in enumerate(rows):
        for c, (title, kind, examples) in enumerate(columns):
            example = examples[name]
            image = (denormalize(example["image"]).mean(0).numpy() * 255).astype(np.uint8)
            finding = next(iter(example["gt"]))
            result = example[kind]
            panel = overlay(
                image,
                result["heatmaps"][finding],
                gt_boxes=example["gt"][finding],
                pred_boxes=result["boxes"].get(finding),
            )
            axes[r, c].imshow(panel)
            axes[r, c].set_title(f"{title}\n{finding} p={result['probs'][finding]:.2f}", fontsize=8)
            axes[r, c].axis("off")
    fig.tight_layout()
    atomic_write(path, lambda temporary: fig.savefig(temporary, dpi=110))
    plt.close(fig)
    return path
