"""What a run writes over its finished models: ``metrics.json``, Figures 5-7 and the other
figures, ``report.md`` and ``report.html``, rewritten as each model finishes."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from cxr14_data import ChestXray14
from cxr14_data.layouts import LayoutDataset
from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.data_source import score_on_folder
from cxr_paper.configuration.protocol import LocalizationProtocol
from cxr_paper.files.atomic import atomic_text
from cxr_paper.inputs.data import Loaders
from cxr_paper.inputs.models import standard_counterpart
from cxr_paper.machine.distributed import DistContext
from cxr_paper.reporting.data_notes import DataNotes
from cxr_paper.reporting.decisions_report import plot_reliability
from cxr_paper.reporting.elsewhere_report import elsewhere_section
from cxr_paper.reporting.figures import (
    plot_heatmap_grid,
    plot_losses,
    plot_roc,
    plot_threshold_curves,
)
from cxr_paper.reporting.html_report import write_html_report
from cxr_paper.reporting.report import run_report
from cxr_paper.scoring import training_noise
from cxr_paper.scoring.comparisons import Comparison
from cxr_paper.scoring.interval_types import ModelDifference
from cxr_paper.scoring.model_metrics import METRICS_JSON, ModelScore, write_metrics
from cxr_paper.scoring.results import ModelResult
from cxr_paper.scoring.uncertainty import paired_models
from multires_backbone import is_multires

PREFERRED_FIGURE_FINDINGS = ("Nodule", "Mass")


def choose_figure_images(dataset: ChestXray14 | LayoutDataset, count: int) -> list[str]:
    """Test images with boxes for Fig. 7, small findings (Nodule, Mass) first.

    Args:
        dataset: The test split's data set (its ``box_labels()``).
        count: Images wanted.

    Returns:
        Image names, at most ``count``.
    """
    ordered = sorted(
        dataset.box_labels(), key=lambda box: (box[1] not in PREFERRED_FIGURE_FINDINGS, box[0])
    )
    return list(dict.fromkeys(image for image, _ in ordered))[:count]


def paired_across_models(
    config: RunConfig, results: dict[str, ModelResult]
) -> dict[str, dict[Comparison, ModelDifference]]:
    """``{multires model: {"<model> - <standard>": difference}}``: MultiRes minus its standard
    model on the same test images, for each such pair of the run.

    Args:
        config: The run's settings (its models).
        results: Per finished model, its result.

    Returns:
        Per MultiRes model, its differences.
    """
    pairs = {}
    for name in results:
        standard = standard_counterpart(name, list(results))
        if standard is not None:
            comparison = paired_models(
                results[name].test,
                results[standard].test,
                config.bootstrap_resamples,
                config.bootstrap_seed,
            )
            pairs[name] = {Comparison(name, standard): comparison}
    return pairs


def data_notes(loaders: Loaders, results: dict[str, ModelResult]) -> DataNotes:
    """On what each table was computed, and what was left out (unreadable images, bad boxes).

    Args:
        loaders: The run's loaders (their data sets' lists and drops).
        results: Per finished model, its result.

    Returns:
        The notes.
    """
    test_set = loaders.dataset("test")
    any_result = next(iter(results.values()))
    splits = {
        "train": any_result.history.get("skipped_train_images", []),
        "val": any_result.history.get("skipped_val_images", []),
        "test": any_result.test.skipped,
    }
    dropped = [
        box.where for split in ("train", "val", "test") for box in loaders.dataset(split).bad_boxes
    ]
    return DataNotes(
        test_images=len(any_result.test.labels),
        test_images_listed=len(test_set),
        box_images=any_result.test.box_images,
        box_images_listed=test_set.box_images,
        skipped_images=splits,
        dropped_boxes=dropped,
        reading=list(loaders.notes),
    )


def write_outputs(
    config: RunConfig,
    out: Path,
    results: dict[str, ModelResult],
    figure_images: list[str],
    loaders: Loaders,
    started: float,
    ctx: DistContext,
    elsewhere: dict[str, dict[str, ModelScore]] | None = None,
) -> None:
    """metrics.json, Figures 5-7 and report.md over the models finished so far (rank 0).

    Args:
        config: The run's settings.
        out: The run folder.
        results: Per finished model, its result.
        figure_images: The Fig. 7 images.
        loaders: The run's loaders.
        started: ``time.time()`` at the start (for the wall time).
        ctx: The process's context; only rank 0 writes.
        elsewhere: Per ``--score-on`` entry, per model, its score on that set.
    """
    across = paired_across_models(config, results)
    metrics = {name: result.metrics(across.get(name)) for name, result in results.items()}
    metrics, _ = training_noise.annotate(metrics, dataclasses.asdict(config))
    write_metrics(metrics, out / METRICS_JSON)
    histories = {name: result.history for name, result in results.items()}
    figures = {"Figure 5 — loss curves": plot_losses(histories, out / "fig5_losses.png")}
    roc_model = next((m for m in results if is_multires(m)), next(iter(results)))
    roc = results[roc_model].test
    figures["Figure 6 — ROC curves"] = plot_roc(
        roc.labels, roc.probs, roc.auroc, roc_model, out / "fig6_roc.png"
    )
    if loaders.task.box_classes:
        figures["Accuracy over the heatmap threshold"] = plot_threshold_curves(
            metrics, out / "fig_threshold_curves.png", LocalizationProtocol.of(config)
        )
    if any(entry.calibration is not None for entry in metrics.values()):
        figures["Reliability diagrams (test split)"] = plot_reliability(
            metrics, out / "fig_reliability.png"
        )
    columns = [(name, "cam", result.test.examples) for name, result in results.items()]
    columns += [
        (f"{name} + PCM", "pcm", result.test.examples)
        for name, result in results.items()
        if is_multires(name)
    ]
    figures["Figure 7 — heatmaps and boxes"] = plot_heatmap_grid(
        columns, figure_images, out / "fig7_heatmaps.png"
    )
    device = str(ctx.device) + (f" × {ctx.world_size} processes" if ctx.distributed else "")
    pending = [m for m in config.models if m not in results]
    report = run_report(
        metrics,
        config,
        loaders.source,
        figures,
        time.perf_counter() - started,
        device,
        data_notes(loaders, results),
        pending,
    )
    folders = {
        spec: {m: str(score_on_folder(spec, m)) for m in by_model}
        for spec, by_model in (elsewhere or {}).items()
    }
    report.add(elsewhere_section(elsewhere or {}, folders))
    atomic_text(out / "report.md", report.to_markdown())
    patients = {
        name: patient
        for result in results.values()
        for name, patient in zip(result.test.image_names, result.test.patients, strict=True)
    }
    write_html_report(
        out / "report.html",
        report,
        {name: result.test.viewer for name, result in results.items()},
        patients,
        f"{config.preset} run: {', '.join(results)}",
        config.prob_threshold,
        config.heatmap_threshold,
        next(iter(results.values())).test.task,
    )
