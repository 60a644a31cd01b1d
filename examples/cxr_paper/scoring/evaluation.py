"""Test-set evaluation: Table 1 AUROC, Tables 2-3 localization with and without the PCM, Table 4."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.task import Task
from cxr_paper.inputs.data import loader_task
from cxr_paper.machine.distributed import DistContext, gather
from cxr_paper.machine.timing import time_call
from cxr_paper.scoring.auroc import macro_auroc
from cxr_paper.scoring.cam_methods import at_map_size, gradient_cam
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.scores import LocalizationScores
from cxr_paper.scoring.viewer_data import add_kind, new_record
from multires_backbone import CAMClassifier, published_parameter_count
from pcm_seam import PCM, refine


@dataclass
class TestResult:
    """What the test split gave: AUROC, localization per map kind, the raw outputs (for Fig. 6),
    the Fig. 7 examples, on how many images each part was computed, and each method's seconds."""

    auroc: dict[str, float]
    localization: dict[str, dict[str, Any]]
    labels: np.ndarray
    probs: np.ndarray
    box_images: int
    #: the data set's classes (the columns of ``labels``/``probs``), box classes and box frame
    task: Task
    examples: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: every scored test image (rows of ``labels``/``probs``) and its patient
    image_names: list[str] = field(default_factory=list)
    patients: list[int] = field(default_factory=list)
    #: per map kind, the scores with their per-image records (for the intervals)
    scores: dict[str, LocalizationScores] = field(default_factory=dict)
    #: per test image with boxes, what the HTML report's browser shows (``viewer_data``)
    viewer: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per map kind, each box image's name, class maps and probabilities (``maps/<kind>.npz``)
    maps: dict[str, dict[str, list]] = field(default_factory=dict)


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
    methods: Sequence[str] = ("cam",),
    seed: int = 0,
    pointing_tolerance: float = 15.0,
    task: Task | None = None,
) -> TestResult:
    """AUROC over the whole test split; localization over its images that have GT boxes, for
    each of ``methods`` (:data:`CAM_METHODS`), each also refined by the PCM (unless ``pcm`` is
    ``None``): the fixed protocol, MaxBoxAccV2, the pointing game, the accuracy-vs-threshold
    curve and the calibrated accuracy (:class:`~cxr_paper.scoring.scores.LocalizationScores`).

    Under torchrun each rank scores its shard; the outputs and metric counters of all ranks are
    gathered, so every number covers the whole split. ``task`` (the data set's classes, box
    classes and box frame) defaults to the loader's data set's.
    """
    task = task or loader_task(loader)
    device = ctx.device
    model.eval()
    explainers = {m: gradient_cam(m, model, task) for m in methods if m != "cam"}
    map_kinds = [
        MapKind(m, p).key for m in methods for p in (False, True) if p <= (pcm is not None)
    ]
    scores = {
        k: LocalizationScores(task, seed, pointing_tolerance, prob_threshold, q) for k in map_kinds
    }
    seconds = dict.fromkeys(methods, 0.0)
    all_probs, all_labels, examples, viewer, box_images, skipped = [], [], {}, {}, 0, []
    saved_maps: dict[str, dict[str, list]] = {
        k: {"ids": [], "maps": [], "probs": []} for k in map_kinds
    }
    names, patients = [], []
    for batch in tqdm(loader, desc=desc, leave=False, unit="batch", disable=not ctx.is_main):
        skipped += batch.get("skipped_names", [])
        if "image" not in batch:
            continue
        images = batch["image"].to(device)
        started = time.perf_counter()
        out = model(images)
        probs = torch.sigmoid(out.logits).cpu().numpy()
        all_probs.append(probs)
        all_labels.append(batch["labels"].numpy())
        names += list(batch["image_index"])
        patients += [int(p) for p in batch["patient_id"]]
        has_boxes = [i for i, gt in enumerate(batch["boxes"]) if gt]
        if not has_boxes:
            seconds["cam"] += time.perf_counter() - started
            continue
        boxed, features = images[has_boxes], out.features[has_boxes]
        maps = {"cam": out.cams[has_boxes].float()}
        seconds["cam"] += time.perf_counter() - started
        for method, explain in explainers.items():
            started = time.perf_counter()
            maps[method] = at_map_size(explain(boxed), out.cams.shape[-2:]).to(device)
            seconds[method] += time.perf_counter() - started
        by_kind = {}
        for method, class_maps in maps.items():
            by_kind[MapKind(method, False).key] = class_maps.cpu().numpy()
            if pcm is not None:
                refined = refine(pcm.eval(), features, class_maps, boxed)
                by_kind[MapKind(method, True).key] = refined.cpu().numpy()
        size = tuple(images.shape[-2:])
        for row, i in enumerate(has_boxes):
            box_images += 1
            gt_boxes = {name: rows.numpy() for name, rows in batch["boxes"][i].items()}
            name = batch["image_index"][i]
            record = viewer[name] = new_record(images[i], size, gt_boxes)
            for kind, class_maps in by_kind.items():
                for key, value in zip(
                    ("ids", "maps", "probs"), (name, class_maps[row], probs[i]), strict=True
                ):
                    saved_maps[kind][key].append(value)
                boxes, heatmaps = scores[kind].update(
                    class_maps[row], probs[i], size, gt_boxes, batch["patient_id"][i], name
                )
                add_kind(record, kind, class_maps[row], probs[i], boxes, task)
                if name in keep_examples:
                    examples.setdefault(name, {"image": images[i].cpu(), "gt": gt_boxes})[kind] = {
                        "heatmaps": heatmaps,
                        "boxes": boxes,
                        "probs": {c: float(probs[i][task.index(c)]) for c in gt_boxes},
                    }
    parts = gather(
        {
            "labels": all_labels,
            "probs": all_probs,
            "scores": scores,
            "examples": examples,
            "viewer": viewer,
            "maps": saved_maps,
            "box_images": box_images,
            "skipped": skipped,
            "seconds": seconds,
            "names": names,
            "patients": patients,
        },
        ctx,
    )
    for part in parts[1:]:
        examples.update(part["examples"])
        viewer.update(part["viewer"])
        for kind, kind_scores in part["scores"].items():
            scores[kind].merge(kind_scores)
            for key, values in part["maps"][kind].items():
                saved_maps[kind][key] += values
    if not any(part["labels"] for part in parts):
        raise ValueError(
            "The test split holds no image to evaluate: test_list.txt lists none, or every listed "
            "image was skipped as unreadable."
        )
    labels = np.concatenate([a for part in parts for a in part["labels"]])
    probs = np.concatenate([a for part in parts for a in part["probs"]])
    return TestResult(
        auroc=macro_auroc(labels, probs, task.classes),
        localization={kind: s.compute() for kind, s in scores.items()},
        labels=labels,
        probs=probs,
        box_images=sum(part["box_images"] for part in parts),
        task=task,
        examples=examples,
        skipped=sorted({name for part in parts for name in part["skipped"]}),
        seconds={m: max(part["seconds"][m] for part in parts) for m in methods},
        image_names=[n for part in parts for n in part["names"]],
        patients=[p for part in parts for p in part["patients"]],
        scores=scores,
        viewer=viewer,
        maps=saved_maps,
    )


def evaluate_run(
    model: CAMClassifier,
    pcm: PCM | None,
    loader: DataLoader,
    config: RunConfig,
    ctx: DistContext,
    keep_examples: set[str],
    desc: str,
    methods: Sequence[str] | None = None,
) -> TestResult:
    """:func:`evaluate_test` with a run's settings (thresholds, seed, pointing tolerance, and its
    ``--cam-methods`` unless ``methods`` is given)."""
    return evaluate_test(
        model,
        pcm,
        loader,
        ctx,
        config.prob_threshold,
        config.heatmap_threshold,
        keep_examples,
        desc,
        methods=config.cam_methods if methods is None else methods,
        seed=config.data_seed,
        pointing_tolerance=config.pointing_tolerance,
    )


@torch.no_grad()
def split_logits(
    model: CAMClassifier, loader: DataLoader, ctx: DistContext, desc: str = "validation"
) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, logits)`` ``(N, K)`` of every readable image of a split, all ranks gathered:
    what the operating points and the temperature are chosen on."""
    model.eval()
    labels, logits = [], []
    for batch in tqdm(loader, desc=desc, leave=False, unit="batch", disable=not ctx.is_main):
        if "image" in batch:
            logits.append(model(batch["image"].to(ctx.device)).logits.float().cpu().numpy())
            labels.append(batch["labels"].numpy())
    parts = gather({"labels": labels, "logits": logits}, ctx)
    if not any(part["labels"] for part in parts):
        raise ValueError("The validation split holds no readable image to choose thresholds on.")
    return tuple(np.concatenate([a for part in parts for a in part[key]]) for key in parts[0])


def parameter_counts(name: str, model: CAMClassifier, pcm: PCM) -> dict[str, int]:
    """Ours (one output per class, + PCM) and the published configuration (Table 4's way of
    counting: one more output)."""

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    return {
        "model": count(model),
        "model_with_pcm": count(model) + count(pcm),
        "published_configuration": published_parameter_count(name, model.num_classes),
    }


@torch.no_grad()
def inference_ms(
    model: CAMClassifier, pcm: PCM | None, device: torch.device, repeats: int, size: int = 256
) -> float:
    """Median time of one 256x256x3 forward (batch 1), ``torch.utils.benchmark`` timed over at
    least ``repeats`` x 50 ms of calls."""
    model.eval()
    x = torch.randn(1, 3, size, size, device=device)

    def run() -> None:
        out = model(x)
        if pcm is not None:
            refine(pcm, out.features, out.cams, x)

    return time_call(run, min_run_time=0.05 * repeats).median_ms
