"""What one process gathers while it scores its shard of the test split, merged across processes
into a :class:`~cxr_paper.scoring.outcome.TestResult`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from cxr_paper.configuration.task import Task
from cxr_paper.scoring.auroc import known_labels, macro_auroc
from cxr_paper.scoring.evaluation_settings import EvaluationSettings
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.outcome import TestResult
from cxr_paper.scoring.scores import LocalizationScores
from cxr_paper.scoring.viewer_data import add_kind, new_record


class ShardScores:
    """What one process gathers while scoring its shard of the test split: the outputs AUROC
    is computed on, per map kind the localization scores and the saved maps, the viewer's
    records, the Fig. 7 examples, and each method's seconds. Shards merge in rank order.

    Args:
        task: The classes and box classes.
        settings: How the test split is scored.
        kinds: The map kinds to score.
    """

    def __init__(self, task: Task, settings: EvaluationSettings, kinds: Sequence[MapKind]) -> None:
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
        self.labels.append(known_labels(batch))
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
