"""Test-set evaluation: Table 1 AUROC, Tables 2-3 localization with and without the PCM."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.task import Task
from cxr_paper.inputs.data import loader_task
from cxr_paper.machine.distributed import DistContext, gather
from cxr_paper.scoring.cam_methods import at_map_size, gradient_cam
from cxr_paper.scoring.evaluation_settings import PAPER_EVALUATION, EvaluationSettings
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.outcome import TestResult
from cxr_paper.scoring.shard_scores import ShardScores
from multires_backbone import CAMClassifier
from pcm_seam import PCM, refine


@torch.no_grad()
def evaluate_test(
    model: CAMClassifier,
    pcm: PCM | None,
    loader: DataLoader,
    ctx: DistContext,
    settings: EvaluationSettings = PAPER_EVALUATION,
    keep_examples: Collection[str] = (),
    desc: str = "test",
    task: Task | None = None,
) -> TestResult:
    """AUROC over the whole test split; localization over its images that have GT boxes, for
    each of the settings' methods, each also refined by the PCM (unless ``pcm`` is ``None``):
    the fixed protocol, MaxBoxAccV2, the pointing game, the accuracy-vs-threshold curve and the
    calibrated accuracy (:class:`~cxr_paper.scoring.scores.LocalizationScores`).

    Under torchrun each rank scores its shard; the shards are gathered and merged in rank order,
    so every rank holds the same result over the whole split.

    Args:
        model: the classifier; its CAMs ``(B, K, h, w)`` are the ``"cam"`` maps.
        pcm: the PCM that refines every method's maps, or ``None``.
        loader: the test split; batches hold ``image`` ``(B, 3, H, W)`` float, ``labels``
            ``(B, K)``, ``boxes`` (per image, per class, ``(n, 4)`` ``xywh`` in input pixels),
            ``image_index`` and ``patient_id``.
        ctx: the process group (one process: :data:`cxr_paper.machine.distributed.CPU`-like).
        settings: thresholds, methods, calibration seed, pointing tolerance.
        keep_examples: names of images whose heatmaps and boxes to keep (Fig. 7).
        desc: the progress bar's label.
        task: the data set's classes, box classes and box frame (default: the loader's).

    Returns:
        The split's AUROC, every map kind's :class:`~cxr_paper.scoring.kind_scores.KindScores`,
        the raw outputs, the scores with their per-image records, the viewer's records and maps.
    """
    task = task or loader_task(loader)
    device = ctx.device
    model.eval()
    explainers = {m: gradient_cam(m, model, task) for m in settings.methods if m != "cam"}
    # a task without box classes (CheXpert, MIMIC) has nothing to localize here: AUROC only
    kinds = settings.map_kinds(pcm is not None) if task.box_classes else []
    shard = ShardScores(task, settings, kinds)
    for batch in tqdm(loader, desc=desc, leave=False, unit="batch", disable=not ctx.is_main):
        shard.skipped += batch.get("skipped_names", [])
        if "image" not in batch:
            continue
        images = batch["image"].to(device)
        started = time.perf_counter()
        out = model(images)
        probs = torch.sigmoid(out.logits).cpu().numpy()
        shard.add_outputs(batch, probs)
        has_boxes = [i for i, gt in enumerate(batch["boxes"]) if gt]
        if not has_boxes:
            shard.seconds["cam"] += time.perf_counter() - started
            continue
        boxed, features = images[has_boxes], out.features[has_boxes]
        maps = {"cam": out.cams[has_boxes].float()}
        shard.seconds["cam"] += time.perf_counter() - started
        for method, explain in explainers.items():
            started = time.perf_counter()
            maps[method] = at_map_size(explain(boxed), out.cams.shape[-2:]).to(device)
            shard.seconds[method] += time.perf_counter() - started
        by_kind = {}
        for method, class_maps in maps.items():
            by_kind[MapKind(method, False)] = class_maps.cpu().numpy()
            if pcm is not None:
                refined = refine(pcm.eval(), features, class_maps, boxed)
                by_kind[MapKind(method, True)] = refined.cpu().numpy()
        for row, i in enumerate(has_boxes):
            name = batch["image_index"][i]
            shard.add_box_image(
                images[i],
                name,
                batch["patient_id"][i],
                {label: rows.numpy() for label, rows in batch["boxes"][i].items()},
                probs[i],
                {kind: class_maps[row] for kind, class_maps in by_kind.items()},
                name in keep_examples,
            )
    first, *others = gather(shard, ctx)
    for other in others:
        first.merge(other)
    return first.result()


def evaluate_run(
    model: CAMClassifier,
    pcm: PCM | None,
    loader: DataLoader,
    config: RunConfig,
    ctx: DistContext,
    keep_examples: Collection[str],
    desc: str,
    methods: Sequence[str] | None = None,
) -> TestResult:
    """:func:`evaluate_test` with a run's settings (:meth:`EvaluationSettings.of_run`).

    Args:
        model: The trained classifier.
        pcm: Its PCM, or ``None`` for stage 1 only.
        loader: The test split's loader (this process's shard under DDP).
        config: The run's settings (thresholds, methods, seed).
        ctx: The process group; results are gathered on rank 0.
        keep_examples: Image names whose maps are kept for Fig. 7.
        desc: The progress bar's label.
        methods: Map methods to score, else ``config``'s.

    Returns:
        The test split's AUROC, localization and raw outputs.
    """
    settings = EvaluationSettings.of_run(config, methods)
    return evaluate_test(model, pcm, loader, ctx, settings, keep_examples, desc)
