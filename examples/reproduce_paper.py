"""Reproduce D'Souza, Reddy & Manjunath (2022) end to end: Tables 1-4, Figures 5-7, a report.

    python examples/reproduce_paper.py                       # demo preset on the synthetic set
    python examples/reproduce_paper.py --data /path/to/ChestX-ray14 --preset paper
    python examples/reproduce_paper.py --out runs/paper --resume   # continue an interrupted run
    python examples/reproduce_paper.py --out runs/demo --overwrite  # replace an earlier run
    python examples/reproduce_paper.py --reproducible               # same weights on any x86-64
    torchrun --nproc_per_node=4 examples/reproduce_paper.py --data /path/to/CXR14 --preset paper

Stage 1 trains each classifier with the dynamically weighted BCE; stage 2 trains its PCM with SEAM
over the frozen classifier; evaluation scores the test split with and without the PCM. Every
model's weights are checked before any data is read; the report, ``metrics.json`` and the figures
are rewritten as each model finishes, and ``--resume`` keeps the finished models.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import torch

from cxr14_data import IMAGENET_MEAN, IMAGENET_STD, ImageDecodeError, read_bbox_list
from cxr_paper.configuration.cli import get_args_parser, resolve_config
from cxr_paper.configuration.config import CONFIG_FILE, RunConfig
from cxr_paper.deploy.decisions import decision_quality, saved_operating_points
from cxr_paper.deploy.pretrained import save_run_model
from cxr_paper.errors import RunError, run_main
from cxr_paper.files.jsonio import write_json
from cxr_paper.files.out_folder import claim
from cxr_paper.files.records import save_records, save_test_maps
from cxr_paper.files.results import ModelResult
from cxr_paper.inputs.data import Loaders, build_loaders, config_task
from cxr_paper.inputs.models import build_model, check_weights
from cxr_paper.learning.training import fit_classifier, fit_pcm
from cxr_paper.machine import reproducible
from cxr_paper.machine.distributed import DistContext, barrier, init_distributed, shutdown
from cxr_paper.machine.environment import environment
from cxr_paper.machine.runtime import KILL_AFTER_MODELS_ENV, maybe_kill
from cxr_paper.reporting.decisions_report import plot_reliability
from cxr_paper.reporting.figures import (
    plot_heatmap_grid,
    plot_losses,
    plot_roc,
    plot_threshold_curves,
)
from cxr_paper.reporting.html_report import write_html_report
from cxr_paper.reporting.report import DataNotes, write_report
from cxr_paper.scoring import training_noise
from cxr_paper.scoring.evaluation import evaluate_run, inference_ms, parameter_counts, split_logits
from cxr_paper.scoring.uncertainty import model_intervals, paired_maps, paired_models
from multires_backbone import is_multires

PREFERRED_FIGURE_FINDINGS = ("Nodule", "Mass")
Normalization = tuple[tuple[float, ...], tuple[float, ...]]


def choose_figure_images(dataset, count: int) -> list[str]:
    """Test images with boxes for Fig. 7, small findings (Nodule, Mass) first."""
    in_split = {r.image_index for r in dataset.records}
    boxes = [b for b in read_bbox_list(dataset.root) if b.image_index in in_split]
    ordered = sorted(boxes, key=lambda b: (b.label not in PREFERRED_FIGURE_FINDINGS, b.image_index))
    names: list[str] = []
    for box in ordered:
        if box.image_index not in names:
            names.append(box.image_index)
    return names[:count]


def unreadable_message(error: BaseException) -> str:
    """One line naming the file (a DataLoader worker's error carries a traceback in its text)."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    detail = (lines[-1] if lines else repr(error)).split("ImageDecodeError: ", 1)[-1]
    return (
        f"{detail} -- find every unreadable image first with `python -m cxr14_data stats "
        "ROOT --verify`, or pass --skip-unreadable to skip them and list them in the report."
    )


def main(args: argparse.Namespace) -> Path:
    started = time.perf_counter()
    config = resolve_config(args)
    if config.reproducible:
        enter_reproducible_mode(config)
    ctx = init_distributed(config.device)
    try:
        return run(config, ctx, args.resume, started, getattr(args, "overwrite", False))
    except ImageDecodeError as error:
        raise RunError(unreadable_message(error)) from None
    finally:
        shutdown(ctx)


def enter_reproducible_mode(config: RunConfig) -> None:
    """``--reproducible``: re-execute this script with the mode's environment if it started
    without it, then switch PyTorch into the mode (:mod:`cxr_paper.machine.reproducible`)."""
    if config.device.startswith("cuda") or (config.device == "auto" and torch.cuda.is_available()):
        raise RunError("--reproducible is a CPU mode: run it with --device cpu on a CPU machine.")
    missing = reproducible.missing_environment()
    started_as_script = getattr(sys.modules["__main__"], "__spec__", None) is None
    if missing and not (started_as_script and sys.argv[0].endswith(".py")):
        assignments = " ".join(f"{k}={v}" for k, v in reproducible.ENVIRONMENT.items())
        raise RunError(f"--reproducible from inside Python: start the process with {assignments}.")
    reproducible.ensure_environment(sys.argv)
    reproducible.apply()


def run(
    config: RunConfig, ctx: DistContext, resume: bool, started: float, overwrite: bool = False
) -> Path:
    """Check every model's weights, then (rank 0 holding ``--out``'s lock) train and report."""
    normalization: dict[str, Normalization] = {
        m: (IMAGENET_MEAN, IMAGENET_STD) for m in config.models
    }
    if any(config.weights_for(m) != "none" for m in config.models):
        normalization.update(check_weights(config, len(config_task(config).classes)))
    # one writer per run folder, taken before anything is written; the other ranks compute
    held = (
        claim(Path(config.out), resume=resume, overwrite=overwrite, marker=CONFIG_FILE)
        if ctx.is_main
        else contextlib.nullcontext()
    )
    with held:
        return run_models(config, ctx, resume, started, normalization)


def run_models(
    config: RunConfig,
    ctx: DistContext,
    resume: bool,
    started: float,
    normalization: dict[str, Normalization],
) -> Path:
    """Train, evaluate and report each model of the run (finished ones kept with ``resume``)."""
    out = Path(config.out)
    torch.manual_seed(config.seed)
    loaders: dict[Normalization, Loaders] = {}

    def loaders_for(norm: Normalization) -> Loaders:
        if norm not in loaders:
            loaders[norm] = build_loaders(config, ctx, norm)
        return loaders[norm]

    first = loaders_for(normalization[config.models[0]])
    figure_images = choose_figure_images(first.dataset("test"), config.figure_images)
    if ctx.is_main:  # the data is there and fits: the folder now holds this run
        config.save(out)
    results: dict[str, ModelResult] = {}
    for position, name in enumerate(config.models, start=1):
        saved = ModelResult.load(out / name) if resume else None
        if saved is not None:
            results[name] = saved
            print(f"{name}: finished in an earlier session, kept")
        else:
            results[name] = train_and_evaluate(
                name,
                config,
                loaders_for(normalization[name]),
                normalization[name],
                ctx,
                resume,
                set(figure_images),
            )
            if ctx.is_main:
                results[name].save(out / name)
        if ctx.is_main:
            write_outputs(config, out, results, figure_images, first, started, ctx)
        barrier(ctx)
        maybe_kill(KILL_AFTER_MODELS_ENV, position)
    report = out / "report.md"
    if ctx.is_main:
        print(f"Report: {report.resolve()}")
    return report


def train_and_evaluate(
    name: str,
    config: RunConfig,
    loaders: Loaders,
    normalization: Normalization,
    ctx: DistContext,
    resume: bool,
    figure_images: set[str],
) -> ModelResult:
    """Stage 1, stage 2, the test split (Tables 1-4 for this model), then the shareable model
    (``pretrained/``: weights, config and model card)."""
    folder = Path(config.out) / name
    torch.manual_seed(config.seed)
    model = build_model(name, config, len(loaders.task.classes)).to(ctx.device)
    history = fit_classifier(name, model, loaders, config, folder, ctx, resume)
    pcm, pcm_history = fit_pcm(name, model, loaders, config, folder, ctx, resume)
    history = {**history, **pcm_history}
    test = evaluate_run(model, pcm, loaders.test, config, ctx, figure_images, f"{name} test")
    if ctx.is_main:
        save_records(test, folder)
        save_test_maps(test, folder)
    val_labels, val_logits = split_logits(model, loaders.val, ctx, f"{name} validation")
    decisions = decision_quality(val_labels, val_logits, test, config)
    resamples, seed = config.bootstrap_resamples, config.bootstrap_seed
    result = ModelResult(
        test=test,
        history=history,
        params=parameter_counts(name, model, pcm),
        latency_ms=inference_ms(model, None, ctx.device, config.latency_repeats),
        latency_ms_pcm=inference_ms(model, pcm, ctx.device, config.latency_repeats),
        intervals=model_intervals(test, resamples, seed),
        paired=paired_maps(test, resamples, seed),
        environment=environment(ctx.device),
        decisions=decisions,
    )
    if ctx.is_main:
        save_run_model(
            model,
            pcm,
            folder,
            architecture=name,
            classes=result.test.task.classes,
            image_size=config.image_size,
            normalization=normalization,
            gamma=config.lse_gamma,
            prob_threshold=config.prob_threshold,
            heatmap_threshold=config.heatmap_threshold,
            operating_points=saved_operating_points(decisions),
            temperature=decisions["calibration"]["temperature"],
            card={
                "metrics": result.metrics(),
                "training_data": f"{card_source(config, loaders)}; the run's settings are in its "
                "config.json.",
                "synthetic": config.data == "synthetic",
                # relative: the card travels to the Hub, local folders do not belong there
                "where": f"{Path(config.out).name}/{name}/pretrained",
            },
        )
    return result


def card_source(config: RunConfig, loaders: Loaders) -> str:
    """The training data as the model card names it: no local path (the card is published)."""
    if config.data == "synthetic":
        return loaders.source
    return "NIH ChestX-ray14, the official train/val list split by patient"


def standard_counterpart(model: str, models: list[str]) -> str | None:
    """The standard model a multi-resolution one is paired with in the run, if any."""
    if not is_multires(model):
        return None
    standard = model.removeprefix("multires_")
    return standard if standard in models else None


def paired_across_models(
    config: RunConfig, results: dict[str, ModelResult]
) -> dict[str, dict[str, Any]]:
    """``{multires model: {"<model> - <standard>": comparison}}``: MultiRes minus its standard
    model on the same test images, for each such pair of the run."""
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
            pairs[name] = {f"{name} - {standard}": comparison}
    return pairs


def data_notes(loaders: Loaders, results: dict[str, ModelResult]) -> DataNotes:
    """On what each table was computed, and what was left out (unreadable images, bad boxes)."""
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
    )


def write_outputs(
    config: RunConfig,
    out: Path,
    results: dict[str, ModelResult],
    figure_images: list[str],
    loaders: Loaders,
    started: float,
    ctx: DistContext,
) -> None:
    """metrics.json, Figures 5-7 and report.md over the models finished so far (rank 0)."""
    metrics = {name: result.metrics() for name, result in results.items()}
    for model, comparisons in paired_across_models(config, results).items():
        metrics[model]["paired"] = {**metrics[model].get("paired", {}), **comparisons}
    training_noise.annotate(metrics, dataclasses.asdict(config))
    write_json(metrics, out / "metrics.json")
    histories = {name: result.history for name, result in results.items()}
    figures = {"Figure 5 — loss curves": plot_losses(histories, out / "fig5_losses.png")}
    roc_model = next((m for m in results if is_multires(m)), next(iter(results)))
    roc = results[roc_model].test
    figures["Figure 6 — ROC curves"] = plot_roc(
        roc.labels, roc.probs, roc.auroc, roc_model, out / "fig6_roc.png"
    )
    figures["Accuracy over the heatmap threshold"] = plot_threshold_curves(
        metrics, out / "fig_threshold_curves.png"
    )
    if any("calibration" in entry for entry in metrics.values()):
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
    report = write_report(
        out / "report.md",
        metrics,
        dataclasses.asdict(config),
        loaders.source,
        figures,
        time.perf_counter() - started,
        device,
        data_notes(loaders, results),
        pending,
    )
    patients = {
        name: patient
        for result in results.values()
        for name, patient in zip(result.test.image_names, result.test.patients, strict=True)
    }
    write_html_report(
        out / "report.html",
        report.read_text(),
        {name: result.test.viewer for name, result in results.items()},
        patients,
        f"{config.preset} run: {', '.join(results)}",
        config.prob_threshold,
        config.heatmap_threshold,
        next(iter(results.values())).test.task,
    )


if __name__ == "__main__":
    run_main(lambda: main(get_args_parser().parse_args()))
