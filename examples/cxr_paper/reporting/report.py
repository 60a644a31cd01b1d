"""The run's report (``report.md``, and the tables of ``report.html``): Tables 1-4 with the
paper's numbers beside ours, the figures, the run's facts."""

from __future__ import annotations

import math
from pathlib import Path

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.paper_numbers import (
    TABLE1_AUROC,
    TABLE4,
    paper_applies,
    paper_row,
)
from cxr_paper.configuration.task import Task
from cxr_paper.reporting.data_notes import DataNotes
from cxr_paper.reporting.decisions_report import decisions_section
from cxr_paper.reporting.document import Document, Table, literal, make_table
from cxr_paper.reporting.localization_tables import localization_sections
from cxr_paper.reporting.markdown import number, with_interval
from cxr_paper.reporting.noise_report import training_noise_section
from cxr_paper.scoring.interval_types import MEAN, Interval
from cxr_paper.scoring.model_metrics import ModelMetrics

INTERVAL_NOTE = (
    "Brackets: 95 % intervals over the **test patients only** (percentile bootstrap, {resamples} "
    "resamples of the test patients, seed {seed}): how far a number would move on another draw "
    "of test images. Retraining with another seed, or on another machine, moves it too, and "
    "that is not in them (see Training noise)."
)


def metrics_task(metrics: dict[str, ModelMetrics]) -> Task:
    """The task the models of ``metrics.json`` were evaluated on (stored with each model).

    Args:
        metrics: Per model, its ``metrics.json`` entry.

    Returns:
        The first model's task (a run evaluates every model on one).
    """
    return next(iter(metrics.values())).task


def table1(metrics: dict[str, ModelMetrics]) -> Table:
    """Table 1: test AUROC per class, ours with intervals beside the paper's.

    Args:
        metrics: Per model, its ``metrics.json`` entry.

    Returns:
        Rows per class and the mean; a column per model (and per paper model where the classes
        are ChestX-ray14's).
    """
    task = metrics_task(metrics)
    paper_models = list(metrics) if paper_applies(task.classes, task.box_classes) else []
    header = [
        "Pathology",
        *(f"{m} (ours)" for m in metrics),
        *(f"{paper_row(m)} (paper)" for m in paper_models),
    ]
    rows = []
    for i, name in enumerate([*task.classes, MEAN]):
        ours = [_ours(m.intervals.auroc.get(name), m.auroc[name]) for m in metrics.values()]
        paper = [number(TABLE1_AUROC[paper_row(m)][i]) for m in paper_models]
        rows.append([name, *ours, *paper])
    return make_table(header, rows)


def _ours(interval: Interval | None, value: float) -> str:
    """The value with its interval when the run computed one."""
    return with_interval(interval) if interval else number(value)


def table4(metrics: dict[str, ModelMetrics], device: str) -> Table:
    """Table 4: inference time and parameters, ours beside the paper's.

    Args:
        metrics: Per model, its ``metrics.json`` entry.
        device: The device the latency was measured on.

    Returns:
        Rows per model.
    """
    header = [
        "Model",
        f"ms ({device})",
        "ms with PCM",
        "params (ours)",
        "params (published config)",
        "paper ms (P100)",
        "paper params",
    ]
    rows = []
    for model, result in metrics.items():
        paper_ms, paper_params = TABLE4.get(model, (math.nan, None))
        rows.append(
            [
                model,
                f"{result.latency_ms:.2f}",
                f"{result.latency_ms_pcm:.2f}",
                f"{result.params.model:,}",
                f"{result.params.published_configuration:,}",
                number(paper_ms) if model in TABLE4 else "–",
                f"{paper_params:,}" if paper_params else "–",
            ]
        )
    return make_table(header, rows)


def run_report(
    metrics: dict[str, ModelMetrics],
    config: RunConfig,
    source: str,
    figures: dict[str, Path],
    seconds: float,
    device: str,
    notes: DataNotes,
    pending: list[str] | None = None,
) -> Document:
    """The run's report: its facts, Tables 1-4 beside the paper's, the methods compared, the
    paired differences, the decisions, the training noise and the figures.

    Args:
        metrics: Per model, its ``metrics.json`` entry.
        config: The run's settings.
        source: A description of the data.
        figures: Per figure, its PNG.
        seconds: The run's wall time so far.
        device: The device computed on.
        notes: What the tables were computed on.
        pending: Models still to finish.

    Returns:
        ``report.md``'s document.
    """
    doc = Document().heading("Reproduction of D'Souza, Reddy & Manjunath (2022)", 1)
    doc.bullets(
        [
            f"Data: {literal(source)}",
            f"Preset: `{config.preset}`; models: {', '.join(metrics)}; input "
            f"{config.image_size} px; stage 1 {config.epochs} epochs; stage 2 (PCM) "
            f"{config.pcm_epochs} epochs",
            f"Device: {device}; wall time {seconds / 60:.1f} min",
            "Localization: the ChestX-ray8 protocol (IoBB > T, false positives per evaluated "
            "image) on the test images that have GT boxes; `metrics.json` also holds T ∈ {0.1, "
            "…, 0.9}, IoU matching and the seed authors' protocol (IoU > 0.1, false positives / "
            "880).",
            *notes.lines(),
            f"**Not finished yet**: {', '.join(pending)} (this report covers the models done)."
            if pending
            else "",
        ]
    )
    if not all(m == paper_row(m) for m in metrics):
        doc.paragraph(
            "Our models are smaller stand-ins for the paper's (named in the paper columns), "
            "trained on a different data source; compare the pattern across models, not the "
            "absolute values."
        )
    doc.paragraph(
        INTERVAL_NOTE.format(resamples=config.bootstrap_resamples, seed=config.bootstrap_seed)
    )
    doc.heading("Table 1 — test AUROC").add(table1(metrics)).paragraph(notes.auroc_caption)
    task = metrics_task(metrics)
    if task.box_classes:
        localization_sections(doc, metrics, config, notes)
    else:
        doc.heading("Localization").paragraph(
            f"{literal(task.name)} has no boxes or masks, so nothing is localized on it here: "
            "score the saved models' maps on another set's annotations of the shared classes "
            "(`score_model.py`, or `python -m cam_boxes_iobb score` on saved maps)."
        )
    doc.add(decisions_section(metrics, config))
    doc.add(training_noise_section(metrics))
    doc.heading("Table 4 — inference time at 256×256×3 (batch 1) and parameters")
    doc.add(table4(metrics, device))
    doc.paragraph(
        "Published configuration: 15 classifier outputs plus the PCM embedding for MultiRes "
        "models, 14 outputs for the standard ones, as the authors counted."
    )
    for title, figure in figures.items():
        if figure.is_file():
            doc.heading(title).figure(title, figure.name)
    return doc


# The comparison of localization methods: every map kind of every model, scored by the fixed
# protocol, the calibrated threshold and the threshold-free metrics.
