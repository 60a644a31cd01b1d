"""Test-set evaluation: Table 1 AUROC, Tables 2-3 localization with and without the PCM, Table 4."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cam_boxes_iobb import PAPER_THRESHOLDS, LocalizationMetric, normalize_heatmap
from cxr14_data import BOX_CLASSES, CLASSES
from multires_backbone import CAMClassifier, published_parameter_count
from pcm_seam import PCM, refine

from .auroc import macro_auroc
from .distributed import DistContext, gather
from .localize import localize

VARIANTS = ("cam", "pcm")


def _new_metrics() -> dict[str, LocalizationMetric]:
    return {
        "iobb": LocalizationMetric(BOX_CLASSES, PAPER_THRESHOLDS, mode="iobb"),
        "iou": LocalizationMetric(BOX_CLASSES, PAPER_THRESHOLDS, mode="iou"),
        "seed_authors": LocalizationMetric.seed_authors(BOX_CLASSES),
    }


@dataclass
class TestResult:
    """What the test split gave: AUROC, localization per variant and protocol, the raw outputs
    (for Fig. 6), the Fig. 7 examples, and on how many images each part was computed."""

    auroc: dict[str, float]
    localization: dict[str, dict[str, Any]]
    labels: np.ndarray
    probs: np.ndarray
    box_images: int
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


@torch.no_grad()
def evaluate_test(
    model: CAMClassifier,
    pcm: PCM | None,
    loader: DataLoader,
    ctx: DistContext,
    prob_threshold: float,
    q: float,
    keep_examples: set[str],
    desc: str,
) -> TestResult:
    """AUROC over the whole test split; localization over its images that have GT boxes, from
    the CAMs and (unless ``pcm`` is ``None``) the PCM-refined CAMs.

    Under torchrun each rank scores its shard; the outputs and metric counters of all ranks are
    gathered, so every number covers the whole split.
    """
    device = ctx.device
    model.eval()
    variants = VARIANTS if pcm is not None else ("cam",)
    metrics = {variant: _new_metrics() for variant in variants}
    all_probs, all_labels, examples, box_images, skipped = [], [], {}, 0, []
    for batch in tqdm(loader, desc=desc, leave=False, unit="batch", disable=not ctx.is_main):
        skipped += batch.get("skipped_names", [])
        if "image" not in batch:
            continue
        images = batch["image"].to(device)
        out = model(images)
        probs = torch.sigmoid(out.logits).cpu().numpy()
        maps = {"cam": out.cams.float().cpu().numpy()}
        if pcm is not None:
            refined = refine(pcm.eval(), out.features, out.cams, images)
            maps["pcm"] = refined.cpu().numpy()
        all_probs.append(probs)
        all_labels.append(batch["labels"].numpy())
        size = tuple(images.shape[-2:])
        for i, gt in enumerate(batch["boxes"]):
            if not gt:
                continue
            box_images += 1
            gt_boxes = {name: rows.numpy() for name, rows in gt.items()}
            name = batch["image_index"][i]
            for variant in variants:
                boxes, heatmaps = localize(maps[variant][i], probs[i], size, prob_threshold, q)
                for metric in metrics[variant].values():
                    metric.update(boxes, gt_boxes)
                if name in keep_examples:  # Fig. 7 shows the GT classes' maps, predicted or not
                    shown = {
                        c: heatmaps[c]
                        if c in heatmaps
                        else normalize_heatmap(maps[variant][i][CLASSES.index(c)], size=size)
                        for c in gt_boxes
                    }
                    examples.setdefault(name, {"image": images[i].cpu(), "gt": gt_boxes})[
                        variant
                    ] = {
                        "heatmaps": shown,
                        "boxes": boxes,
                        "probs": {c: float(probs[i][CLASSES.index(c)]) for c in gt_boxes},
                    }
    parts = gather((all_labels, all_probs, metrics, examples, box_images, skipped), ctx)
    labels = np.concatenate([a for part in parts for a in part[0]])
    probs = np.concatenate([a for part in parts for a in part[1]])
    for part in parts[1:]:
        examples.update(part[3])
        for variant, variant_metrics in part[2].items():
            for mode, metric in variant_metrics.items():
                metrics[variant][mode].merge(metric)
    box_images = sum(part[4] for part in parts)
    skipped = sorted({name for part in parts for name in part[5]})
    localization = {
        variant: {mode: _jsonable(metric.compute()) for mode, metric in variant_metrics.items()}
        for variant, variant_metrics in metrics.items()
    }
    auroc = macro_auroc(labels, probs)
    return TestResult(auroc, localization, labels, probs, box_images, examples, skipped)


def _jsonable(result: dict) -> dict:
    """``{class: {T: stats}}`` -> ``{str(T): {class: stats}}`` (threshold first, as in Table 2)."""
    thresholds = next(iter(result.values())).keys()
    return {str(t): {name: result[name][t] for name in result} for t in thresholds}


def parameter_counts(name: str, model: CAMClassifier, pcm: PCM) -> dict[str, int]:
    """Ours (14 outputs, + PCM) and the published configuration (Table 4's way of counting)."""

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    return {
        "model": count(model),
        "model_with_pcm": count(model) + count(pcm),
        "published_configuration": published_parameter_count(name, len(CLASSES)),
    }


@torch.no_grad()
def inference_ms(
    model: CAMClassifier, pcm: PCM | None, device: torch.device, repeats: int, size: int = 256
) -> float:
    """Median wall time of one 256x256x3 forward (batch 1), after two warm-up passes."""
    model.eval()
    x = torch.randn(1, 3, size, size, device=device)

    def run() -> None:
        out = model(x)
        if pcm is not None:
            refine(pcm, out.features, out.cams, x)

    times = []
    for i in range(repeats + 2):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 2:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
