"""Reproduce D'Souza, Reddy & Manjunath (2022) end to end: Tables 1-4, Figures 5-7, a report.

    python examples/reproduce_paper.py                       # demo preset on the synthetic set
    python examples/reproduce_paper.py --data /path/to/ChestX-ray14 --preset paper
    python examples/reproduce_paper.py --out runs/demo --resume   # continue an interrupted run
    torchrun --nproc_per_node=4 examples/reproduce_paper.py --data /path/to/CXR14 --preset paper

Stage 1 trains each classifier with the dynamically weighted BCE; stage 2 trains its PCM with SEAM
over the frozen classifier; evaluation scores the test split with and without the PCM.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cxr_paper.checkpoint import save_atomic
from cxr_paper.config import RunConfig, get_args_parser, resolve_config
from cxr_paper.data import build_loaders
from cxr_paper.distributed import DistContext, barrier, init_distributed, shutdown
from cxr_paper.evaluation import evaluate_test, inference_ms, parameter_counts
from cxr_paper.figures import plot_heatmap_grid, plot_losses, plot_roc
from cxr_paper.report import write_report
from cxr_paper.training import build_model, fit_classifier, fit_pcm

from cxr14_data import CLASSES, read_bbox_list

PREFERRED_FIGURE_FINDINGS = ("Nodule", "Mass")


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


def main(args: argparse.Namespace) -> Path:
    started = time.perf_counter()
    config = resolve_config(args)
    ctx = init_distributed(config.device)
    try:
        return run(config, ctx, args.resume, started)
    finally:
        shutdown(ctx)


def run(config: RunConfig, ctx: DistContext, resume: bool, started: float) -> Path:
    out = Path(config.out)
    if ctx.is_main:
        config.save(out)
    torch.manual_seed(config.seed)
    loaders = build_loaders(config, ctx)
    figure_images = choose_figure_images(loaders.test.dataset.dataset, config.figure_images)
    examples_wanted = set(figure_images)
    metrics, histories, results = {}, {}, {}
    for name in config.models:
        folder = out / name
        torch.manual_seed(config.seed)
        model = build_model(name, config).to(ctx.device)
        history = fit_classifier(name, model, loaders, config, folder, ctx, resume)
        pcm, pcm_history = fit_pcm(name, model, loaders, config, folder, ctx, resume)
        histories[name] = {**history, **pcm_history}
        if ctx.is_main:
            save_atomic(
                {
                    "model_name": name,
                    "classes": list(CLASSES),
                    "image_size": config.image_size,
                    "model": model.state_dict(),
                    "pcm": pcm.state_dict(),
                    "pcm_in_channels": model.num_features,
                },
                folder / "final.pt",
            )
        result = evaluate_test(
            model,
            pcm,
            loaders.test,
            ctx,
            config.prob_threshold,
            config.heatmap_threshold,
            examples_wanted,
            f"{name} test",
        )
        results[name] = result
        if ctx.is_main:
            metrics[name] = {
                "auroc": result.auroc,
                "localization": result.localization,
                "localization_images": result.box_images,
                "params": parameter_counts(name, model, pcm),
                "latency_ms": inference_ms(model, None, ctx.device, config.latency_repeats),
                "latency_ms_pcm": inference_ms(model, pcm, ctx.device, config.latency_repeats),
                "history": histories[name],
            }
    report = out / "report.md"
    if ctx.is_main:
        write_outputs(
            config, out, metrics, histories, results, figure_images, loaders.source, started, ctx
        )
        print(f"Report: {report.resolve()}")
    barrier(ctx)
    return report


def write_outputs(config, out, metrics, histories, results, figure_images, source, started, ctx):
    """metrics.json, Figures 5-7 and report.md (rank 0)."""
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    figures = {"Figure 5 — loss curves": plot_losses(histories, out / "fig5_losses.png")}
    roc_model = next((m for m in config.models if m.startswith("multires_")), config.models[0])
    figures["Figure 6 — ROC curves"] = plot_roc(
        results[roc_model].labels,
        results[roc_model].probs,
        results[roc_model].auroc,
        roc_model,
        out / "fig6_roc.png",
    )
    columns = [(name, "cam", results[name].examples) for name in config.models]
    columns += [
        (f"{name} + PCM", "pcm", results[name].examples)
        for name in config.models
        if name.startswith("multires_")
    ]
    figures["Figure 7 — heatmaps and boxes"] = plot_heatmap_grid(
        columns, figure_images, out / "fig7_heatmaps.png"
    )
    device = str(ctx.device) + (f" × {ctx.world_size} processes" if ctx.distributed else "")
    write_report(
        out / "report.md",
        metrics,
        json.loads((out / "config.json").read_text()),
        source,
        figures,
        time.perf_counter() - started,
        device,
    )


if __name__ == "__main__":
    main(get_args_parser().parse_args())
