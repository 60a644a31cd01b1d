"""Test-set evaluation: Table 1 AUROC, Tables 2-3 localization with and without the PCM, Table 4."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from cxr_paper.configuration.config import RunConfig
from cxr_paper.configuration.protocol import PAPER_PROTOCOL
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


@dataclass(frozen=True)
class EvaluationSettings:
    """How the test split is scored: the paper's probability and heatmap thresholds, the map
    methods (:data:`~cxr_paper.configuration.map_methods.CAM_METHODS`, each also PCM-refined when
    there is a PCM), the seed of the calibration split and the pointing game's tolerance."""

    prob_threshold: float = PAPER_PROTOCOL.prob_threshold
    heatmap_threshold: float = PAPER_PROTOCOL.heatmap_threshold
    methods: tuple[str, ...] = ("cam",)
    seed: int = 0
    pointing_tolerance: float = 15.0

    @classmethod
    def of_run(cls, config: RunConfig, methods: Sequence[str] | None = None) -> EvaluationSettings:
        """A run's settings (its ``--cam-methods`` unless ``methods`` is given)."""
        return cls(
            prob_threshold=config.prob_threshold,
            heatmap_threshold=config.heatmap_threshold,
            methods=tuple(config.cam_methods if methods is None else methods),
            seed=config.data_seed,
            pointing_tolerance=config.pointing_tolerance,
        )

    def map_kinds(self, with_pcm: bool) -> list[str]:
        """The kinds of map scored: each method's, then (with a PCM) refined."""
        return [MapKind(m, p).key for m in self.methods for p in (False, True) if p <= with_pcm]


class ShardScores:
    """What one process gathers while scoring its shard of the test split: the outputs AUROC
    is computed on, per map kind the localization scores and the saved maps, the viewer's
    records, the Fig. 7 examples, and each method's seconds. Shards merge in rank order."""

    def __init__(self, task: Task, settings: EvaluationSettings, kinds: Sequence[str]) -> None:
        self.task, self.settings = task, settings
        self.scores = {
            kind: LocalizationScores(
                task,
                settings.seed,
                settings.pointing_tolerance,
                settings.prob_threshold,
                settings.heatmap_threshold,
            )
            for kind in kinds
        }
        self.maps: dict[str, dict[str, list]] = {
            kind: {"ids": [], "maps": [], "probs": []} for kind in kinds
        }
        self.labels: list[np.ndarray] = []
        self.probs: list[np.ndarray] = []
        self.names: list[str] = []
        self.patients: list[int] = []
        self.examples: dict[str, dict[str, Any]] = {}
        self.viewer: dict[str, dict[str, Any]] = {}
        self.box_images = 0
        self.skipped: list[str] = []
        self.seconds = dict.fromkeys(settings.methods, 0.0)

    def add_outputs(self, batch: dict[str, Any], probs: np.ndarray) -> None:
        """A batch's probabilities and labels (AUROC) and its images' names and patients."""
        self.probs.append(probs)
        self.labels.append(batch["labels"].numpy())
        self.names += list(batch["image_index"])
        self.patients += [int(p) for p in batch["patient_id"]]

    def add_box_image(
        self,
        image: torch.Tensor,
        name: str,
        patient: int,
        gt_boxes: dict[str, np.ndarray],
        probs: np.ndarray,
        maps_by_kind: dict[str, np.ndarray],
        keep_example: bool,
    ) -> None:
        """One image with GT boxes: every kind of its class maps ``(K, h, w)`` scored."""
        self.box_images += 1
        size = tuple(image.shape[-2:])
        record = self.viewer[name] = new_record(image, size, gt_boxes)
        for kind, class_maps in maps_by_kind.items():
            saved = self.maps[kind]
            saved["ids"].append(name)
            saved["maps"].append(class_maps)
            saved["probs"].append(probs)
            boxes, heatmaps = self.scores[kind].update(
                class_maps, probs, size, gt_boxes, patient, name
            )
            add_kind(record, kind, class_maps, probs, boxes, self.task)
            if keep_example:
                self.examples.setdefault(name, {"image": image.cpu(), "gt": gt_boxes})[kind] = {
                    "heatmaps": heatmaps,
                    "boxes": boxes,
                    "probs": {c: float(probs[self.task.index(c)]) for c in gt_boxes},
                }

    def merge(self, other: ShardScores) -> None:
        """Another shard's images after this one's (its method seconds: the slower shard's)."""
        for kind, scores in other.scores.items():
            self.scores[kind].merge(scores)
            for key, values in other.maps[kind].items():
                self.maps[kind][key] += values
        self.labels += other.labels
        self.probs += other.probs
        self.names += other.names
        self.patients += other.patients
        self.examples.update(other.examples)
        self.viewer.update(other.viewer)
        self.box_images += other.box_images
        self.skipped += other.skipped
        self.seconds = {m: max(t, other.seconds[m]) for m, t in self.seconds.items()}

    def result(self) -> TestResult:
        if not self.labels:
            raise ValueError(
                "The test split holds no image to evaluate: test_list.txt lists none, or every "
                "listed image was skipped as unreadable."
            )
        labels, probs = np.concatenate(self.labels), np.concatenate(self.probs)
        return TestResult(
            auroc=macro_auroc(labels, probs, self.task.classes),
            localization={kind: s.compute() for kind, s in self.scores.items()},
            labels=labels,
            probs=probs,
            box_images=self.box_images,
            task=self.task,
            examples=self.examples,
            skipped=sorted(set(self.skipped)),
            seconds=self.seconds,
            image_names=self.names,
            patients=self.patients,
            scores=self.scores,
            viewer=self.viewer,
            maps=self.maps,
        )


@torch.no_grad()
def evaluate_test(
    model: CAMClassifier,
    pcm: PCM | None,
    loader: DataLoader,
    ctx: DistContext,
    settings: EvaluationSettings = EvaluationSettings(),
    keep_examples: Collection[str] = (),
    desc: str = "test",
    task: Task | None = None,
) -> TestResult:
    """AUROC over the whole test split; localization over its images that have GT boxes, for
    each of the settings' methods, each also refined by the PCM (unless ``pcm`` is ``None``):
    the fixed protocol, MaxBoxAccV2, the pointing game, the accuracy-vs-threshold curve and the
    calibrated accuracy (:class:`~cxr_paper.scoring.scores.LocalizationScores`).

    Under torchrun each rank scores its shard; the shards are gathered and merged in rank order,
    so every rank holds the same result over the whole split. ``task`` (the data set's classes,
    box classes and box frame) defaults to the loader's data set's.
    """
    task = task or loader_task(loader)
    device = ctx.device
    model.eval()
    explainers = {m: gradient_cam(m, model, task) for m in settings.methods if m != "cam"}
    shard = ShardScores(task, settings, settings.map_kinds(pcm is not None))
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
            by_kind[MapKind(method, False).key] = class_maps.cpu().numpy()
            if pcm is not None:
                refined = refine(pcm.eval(), features, class_maps, boxed)
                by_kind[MapKind(method, True).key] = refined.cpu().numpy()
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
    """:func:`evaluate_test` with a run's settings (:meth:`EvaluationSettings.of_run`)."""
    settings = EvaluationSettings.of_run(config, methods)
    return evaluate_test(model, pcm, loader, ctx, settings, keep_examples, desc)


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
