"""All localization scores of one kind of map (CAM, CAM + PCM, Grad-CAM, ...) over the test split.

- Through :class:`cam_boxes_iobb.scoring.MapScorer`, the evaluator that
  ``python -m cam_boxes_iobb score`` runs: the paper's fixed protocol (heatmap threshold Q, classes
  predicted above a probability: accuracy at IoBB > T and false positives, also with IoU),
  MaxBoxAccV2 (the raw class maps resized with cubic interpolation and min-max normalised, as
  wsolevaluation does) and the pointing game (the map resized to the original image, the box
  frame, where its tolerance is), on every (image, class) with GT boxes.
- The seed authors' protocol (IoU > 0.1, false positives over 880 images).
- The accuracy-vs-threshold curve of the fixed protocol, and a *calibrated* accuracy: NIH has
  boxes only on test images, so a seeded share of the box images (split by patient) chooses the
  heatmap threshold and the rest is scored at it, so that no image both picks and scores it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cam_boxes_iobb import PAPER_THRESHOLDS, LocalizationMetric, ThresholdCurve, normalize_heatmap
from cam_boxes_iobb.scoring import MapScorer, ScoreSettings
from cxr_paper.configuration.protocol import PAPER_PROTOCOL
from cxr_paper.configuration.task import Task
from cxr_paper.files.typed_json import from_json
from cxr_paper.scoring.headlines import FIXED_OVERLAP, HEADLINES, Headline, overlap_key
from cxr_paper.scoring.kind_scores import KindScores

#: Share of the box images (whole patients) that chooses the calibrated heatmap threshold.
CALIBRATION_SHARE = 0.2


def in_calibration_part(patient_id: int, seed: int, share: float = CALIBRATION_SHARE) -> bool:
    """Whether a patient's box images choose the threshold (seeded, stable across runs).

    Args:
        patient_id: The patient's id.
        seed: The calibration split's seed.
        share: The share of patients in the calibration part.

    Returns:
        Whether the patient is in the calibration part.

    Examples:
        >>> parts = [in_calibration_part(p, seed=0) for p in range(1000)]
        >>> 0.15 < sum(parts) / 1000 < 0.25, in_calibration_part(7, 0) == parts[7]
        (True, True)
    """
    return bool(np.random.default_rng([seed, int(patient_id), 7]).random() < share)


def _by_threshold(result: dict) -> dict:
    """``{class: {T: stats}}`` -> ``{T: {class: stats}}`` (threshold first, as in Table 2)."""
    thresholds = next(iter(result.values())).keys()
    return {t: {name: result[name][t] for name in result} for t in thresholds}


class LocalizationScores:
    """Streaming scores of one map kind; ``update`` per box image, ``merge``, ``compute``.

    Args:
        task: The classes and box classes.
        seed: The calibration split's seed.
        pointing_tolerance: The pointing game's tolerance in pixels.
        prob_threshold: A class's boxes are scored only above this probability.
        q: ``Q``, the share of a heatmap's maximum that forms boxes.
    """

    def __init__(
        self,
        task: Task,
        seed: int = 0,
        pointing_tolerance: float = 15.0,
        prob_threshold: float = PAPER_PROTOCOL.prob_threshold,
        q: float = PAPER_PROTOCOL.heatmap_threshold,
    ) -> None:
        self.seed = seed
        self.task = task
        self.classes = task.box_classes
        self.box_frame = task.box_frame
        settings = ScoreSettings(
            heatmap_threshold=q,
            prob_threshold=prob_threshold,
            pointing_tolerance=pointing_tolerance,
            max_box_acc_v1=False,
            resamples=1,  # keep the per-image records: the run's bootstrap reads them
        )
        self.scorer = MapScorer(self.classes, (), task.classes, settings)
        # the boxes come from the scorer and the data set: validated where they are made
        self.seed_authors = LocalizationMetric.seed_authors(self.classes)
        self.curves = {
            part: ThresholdCurve(self.classes, keep_records=part == "held_out")
            for part in ("all", "calibration", "held_out")
        }
        self.images = {"calibration": 0, "held_out": 0}
        #: per scored image, in update order: its name, patient and part
        self.image_names: list[str] = []
        self.patients: list[int] = []
        self.held_out: list[bool] = []

    @property
    def fixed(self) -> dict[str, LocalizationMetric]:
        return {
            "iobb": self.scorer.metrics["fixed_iobb"],
            "iou": self.scorer.metrics["fixed_iou"],
            "seed_authors": self.seed_authors,
        }

    def update(
        self,
        maps: np.ndarray,
        probs: np.ndarray,
        size: tuple[int, int],
        gt_boxes: dict[str, np.ndarray],
        patient_id: int,
        image_name: str = "",
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Score one image's maps (``(K, h, w)`` in the task's class order) against its GT boxes
        (``xywh`` in pixels of ``size``); return its boxes and heatmaps (Q protocol)."""
        to_frame = np.array([self.box_frame[1] / size[1], self.box_frame[0] / size[0]] * 2)
        gt_frame = {c: np.asarray(b) * to_frame for c, b in gt_boxes.items()}
        boxes, heatmaps = self.scorer.update_boxes(
            maps, probs, gt_boxes, size, gt_frame, self.box_frame
        )
        self.scorer.image_ids.append(image_name)
        self.scorer.patients.append(str(patient_id))
        self.seed_authors.update(boxes, gt_boxes)
        gt_heatmaps = {
            c: heatmaps[c] if c in heatmaps else normalize_heatmap(maps[self.task.index(c)], size)
            for c in gt_boxes
        }
        part = "calibration" if in_calibration_part(patient_id, self.seed) else "held_out"
        for key in ("all", part):
            self.curves[key].update(heatmaps, gt_boxes)
        self.images[part] += 1
        self.image_names.append(image_name)
        self.patients.append(int(patient_id))
        self.held_out.append(part == "held_out")
        return boxes, gt_heatmaps

    def merge(self, other: LocalizationScores) -> None:
        self.scorer.merge(other.scorer)
        self.seed_authors.merge(other.seed_authors)
        for key, curve in self.curves.items():
            curve.merge(other.curves[key])
        for key in self.images:
            self.images[key] += other.images[key]
        self.image_names += other.image_names
        self.patients += other.patients
        self.held_out += other.held_out

    def _metrics(self) -> dict[str, Any]:
        return {
            **{f"fixed.{key}": metric for key, metric in self.fixed.items()},
            "max_box_acc": self.scorer.metrics["max_box_acc_v2"],
            "pointing": self.scorer.metrics["pointing_game"],
            **{f"curves.{key}": curve for key, curve in self.curves.items()},
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        """Every metric's counters and records and the images scored, as arrays (``.npz``)."""
        state = {
            f"{name}/{key}": value
            for name, metric in self._metrics().items()
            for key, value in metric.state_dict().items()
        }
        state["images"] = np.array([self.images["calibration"], self.images["held_out"]])
        state["image_names"] = np.asarray(self.image_names, dtype=str)
        state["patients"] = np.asarray(self.patients, dtype=np.int64)
        state["held_out"] = np.asarray(self.held_out, dtype=bool)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state_dict` into scores made with the same settings."""
        for name, metric in self._metrics().items():
            prefix = f"{name}/"
            metric.load_state_dict(
                {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
            )
        calibration, held_out = (int(n) for n in state["images"])
        self.images = {"calibration": calibration, "held_out": held_out}
        self.image_names = [str(name) for name in state["image_names"]]
        self.patients = [int(p) for p in state["patients"]]
        self.held_out = [bool(h) for h in state["held_out"]]
        self.scorer.image_ids = list(self.image_names)
        self.scorer.patients = [str(p) for p in self.patients]

    def calibrated_threshold(self) -> float:
        return self.curves["calibration"].best_threshold()

    def headline(self, weights: np.ndarray) -> np.ndarray:
        """:data:`HEADLINES` under per-image ``weights`` ``(R, N)`` (images in update order):
        ``(R, len(HEADLINES), K + 1)``, classes then their mean. All weights 1 gives
        :meth:`compute`'s numbers."""
        t = PAPER_THRESHOLDS.index(FIXED_OVERLAP)
        fixed = self.fixed["iobb"].resampled(weights)
        held_out = np.asarray(self.held_out, dtype=bool)
        curve = self.curves["held_out"]
        if held_out.any():
            index = curve.thresholds.index(self.calibrated_threshold())
            calibrated = curve.resampled(weights[:, held_out])["accuracy"][:, :, index]
        else:
            calibrated = np.full((len(weights), len(self.classes) + 1), np.nan)
        values = {
            Headline.ACCURACY: fixed["accuracy"][:, :, t],
            Headline.AFP: fixed["afp"][:, :, t],
            Headline.MAX_BOX_ACC_V2: self.scorer.metrics["max_box_acc_v2"].resampled(weights)[
                "max_box_acc"
            ],
            Headline.POINTING_GAME: self.scorer.metrics["pointing_game"].resampled(weights)[
                "accuracy"
            ],
            Headline.CALIBRATED_ACCURACY: calibrated,
        }
        return np.stack([values[h] for h in HEADLINES], axis=1)

    def records(self) -> dict[str, np.ndarray]:
        """Per (image, class) results for the run's records file (see ``records.py``)."""
        t = PAPER_THRESHOLDS.index(FIXED_OVERLAP)
        fixed = self.fixed["iobb"].records()
        max_box = self.scorer.metrics["max_box_acc_v2"].records()
        return {
            "gt_boxes": fixed["gt_boxes"],
            "hits_iobb_0.1": fixed["hits"][:, :, t],
            "false_positives_iobb_0.1": fixed["false_positives"][:, :, t],
            "max_box_acc_v2_correct": max_box["correct"],
            "pointing_hits": self.scorer.metrics["pointing_game"].records()["hits"],
            "held_out": np.asarray(self.held_out, dtype=bool),
        }

    def compute(self) -> KindScores:
        """Every number of the map kind over the images scored so far."""
        result: dict[str, Any] = {
            mode: {overlap_key(t): v for t, v in _by_threshold(metric.compute()).items()}
            for mode, metric in self.fixed.items()
        }
        result["max_box_acc_v2"] = self.scorer.metrics["max_box_acc_v2"].compute()
        result["pointing_game"] = self.scorer.metrics["pointing_game"].compute()
        result["threshold_curve"] = self.curves["all"].compute()
        threshold = self.calibrated_threshold()
        held_out = self.curves["held_out"].compute()
        index = held_out["thresholds"].index(threshold)
        result["calibrated"] = {
            "threshold": threshold,
            "accuracy": {c: v[index] for c, v in held_out["accuracy"].items()},
            "afp": {c: v[index] for c, v in held_out["afp"].items()},
            "calibration_images": self.images["calibration"],
            "evaluation_images": self.images["held_out"],
        }
        return from_json(KindScores, result, "localization")
