"""Localization accuracy and average false positives, streaming over images.

The ChestX-ray8 protocol (Wang et al. 2017), as used by D'Souza et al. (2022, Tables 2-3), per class
and overlap threshold ``T``:

- a ground-truth box is *hit* when some predicted box of its class in the same image overlaps it
  by strictly more than ``T``; **accuracy** = hit GT boxes / GT boxes (NaN for a class with none);
- a predicted box is a *false positive* when it overlaps no GT box of its class in its image by
  more than ``T`` (every predicted box of a class the image has no GT box for is one);
  **afp** = false positives / ``afp_denominator`` (default: the number of images seen).

``mode="iobb"`` measures overlap as ``area(pred ∩ gt) / area(pred)`` (ChestX-ray8); ``mode="iou"``
as intersection over union. The seed authors' code matched with IoU > 0.1 and divided false
positives by 880 (the images with boxes): :meth:`LocalizationMetric.seed_authors` reproduces that
protocol; say which one a table uses.

Per image, predictions and ground truth are ``dict[class name -> (N, 4) xywh boxes]``; a class
absent from a dict has no boxes. The metric keeps only integer counters, so it streams over any
number of images and its state can be summed across processes. With ``keep_records=True`` it
also keeps each image's counters (:meth:`LocalizationMetric.records`), from which
:meth:`LocalizationMetric.resampled` recomputes the metric under any per-image weights: the
patient-level bootstrap of :mod:`cam_boxes_iobb.bootstrap`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from cam_boxes_iobb._state import ArrayState
from cam_boxes_iobb.boxes import check_boxes, iobb_matrix, iou_matrix

Mode = Literal["iobb", "iou"]
MODES: tuple[str, ...] = ("iobb", "iou")
#: The ChestX-ray8 protocol's headline overlap: a GT box is hit at IoBB > 0.1.
HIT_THRESHOLD = 0.1
PAPER_THRESHOLDS: tuple[float, ...] = (HIT_THRESHOLD, 0.25, 0.5, 0.75, 0.9)
SEED_AUTHORS_IMAGES = 880

BoxesPerClass = Mapping[str, Any]
Result = dict[str, dict[float, dict[str, float]]]


def _validate_config(
    classes: Sequence[str], thresholds: Sequence[float], mode: str, afp_denominator: int | None
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    classes = tuple(classes)
    if not classes or len(set(classes)) != len(classes) or "mean" in classes:
        raise ValueError(
            f"Expected `classes` to be distinct, non-empty names other than 'mean', got {classes}."
        )
    thresholds = tuple(float(t) for t in thresholds)
    if not thresholds or not all(0 <= t < 1 for t in thresholds):
        raise ValueError(f"Expected `thresholds` in [0, 1), got {thresholds}.")
    if mode not in MODES:
        raise ValueError(f"Expected `mode` to be one of {MODES}, got {mode!r}.")
    if afp_denominator is not None and (
        not isinstance(afp_denominator, int) or afp_denominator < 1
    ):
        raise ValueError(
            f"Expected `afp_denominator` to be a positive int, got {afp_denominator!r}."
        )
    return classes, thresholds


def _validate_image(
    boxes: BoxesPerClass, classes: Sequence[str], name: str
) -> dict[str, np.ndarray]:
    if not isinstance(boxes, Mapping):
        raise TypeError(
            f"Expected `{name}` to be a dict of class name -> (N, 4) boxes, "
            f"got {type(boxes).__name__}."
        )
    unknown = sorted(set(boxes) - set(classes))
    if unknown:
        raise ValueError(
            f"Unknown class names in `{name}`: {unknown}; expected some of {list(classes)}."
        )
    return {c: check_boxes(b, f"{name}[{c!r}]") for c, b in boxes.items()}


def matches(
    pred: Any, gt: Any, thresholds: Sequence[float] = (HIT_THRESHOLD,), mode: Mode = "iobb"
) -> np.ndarray:
    """The one hit rule: ``(T, N, M)`` booleans, predicted box ``n`` hits GT box ``m`` at
    threshold ``t`` (overlap > ``t``; IoBB divides by the predicted box's area). A GT box is hit
    where any predicted box hits it (``.any(axis=1)``); a predicted box hitting none
    (``.any(axis=2)`` false) is a false positive.

    Examples:
        >>> pred = np.array([[0, 0, 10, 10], [80, 80, 4, 4]]); gt = np.array([[5, 0, 20, 20]])
        >>> found = matches(pred, gt)[0]
        >>> found.any(axis=0).tolist(), found.any(axis=1).tolist()  # GT hit; predictions that hit
        ([True], [True, False])
    """
    if mode not in MODES:
        raise ValueError(f"Expected `mode` in {MODES}, got {mode!r}.")
    p, g = check_boxes(pred, "pred"), check_boxes(gt, "gt")
    return _matches(p, g, np.asarray(thresholds, dtype=np.float64), mode)


def _matches(p: np.ndarray, g: np.ndarray, thresholds: np.ndarray, mode: str) -> np.ndarray:
    if len(p) == 0 or len(g) == 0:
        return np.zeros((len(thresholds), len(p), len(g)), dtype=bool)
    overlap_fn = iobb_matrix if mode == "iobb" else iou_matrix
    return overlap_fn(p, g)[None, :, :] > thresholds[:, None, None]


def _image_counts(
    pred: dict[str, np.ndarray],
    gt: dict[str, np.ndarray],
    classes: Sequence[str],
    thresholds: np.ndarray,
    mode: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hits ``(K, T)``, GT boxes ``(K,)`` and false positives ``(K, T)`` of one image."""
    hits = np.zeros((len(classes), len(thresholds)), dtype=np.int64)
    false_pos = np.zeros_like(hits)
    n_gt = np.zeros(len(classes), dtype=np.int64)
    empty = np.zeros((0, 4))
    for k, name in enumerate(classes):
        p, g = pred.get(name, empty), gt.get(name, empty)
        n_gt[k] = len(g)
        if len(p) == 0:
            continue
        if len(g) == 0:
            false_pos[k] = len(p)
            continue
        matched = _matches(p, g, thresholds, mode)  # (T, N, M); inputs already validated
        hits[k] = matched.any(axis=1).sum(axis=1)
        false_pos[k] = (~matched.any(axis=2)).sum(axis=1)
    return hits, n_gt, false_pos


def _weighted_sum(weights: np.ndarray, records: list[np.ndarray], name: str) -> np.ndarray:
    """``(R, ...)``: the per-image ``records`` summed with each resample's weights ``(R, N)``."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != len(records):
        raise ValueError(
            f"Expected `weights` of shape (R, {len(records)}) (one per image of the {name}'s "
            f"records), got {weights.shape}."
        )
    if not records:
        raise ValueError(f"The {name} has no per-image records: create it with keep_records=True.")
    stacked = np.stack(records).astype(np.float64)
    return (weights @ stacked.reshape(len(records), -1)).reshape(len(weights), *stacked.shape[1:])


def _append_mean(per_class: np.ndarray) -> np.ndarray:
    """``(R, K, ...)`` -> ``(R, K + 1, ...)`` with the mean over the classes that are defined."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        mean = np.nanmean(per_class, axis=1, keepdims=True)
    return np.concatenate([per_class, mean], axis=1)


def _compute(
    hits: np.ndarray,
    n_gt: np.ndarray,
    false_pos: np.ndarray,
    denominator: int,
    classes: Sequence[str],
    thresholds: Sequence[float],
) -> Result:
    result: Result = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = hits / n_gt[:, None]
    afp = false_pos / denominator if denominator else np.full(false_pos.shape, math.nan)
    for k, name in enumerate(classes):
        result[name] = {
            t: {"accuracy": float(accuracy[k, i]), "afp": float(afp[k, i])}
            for i, t in enumerate(thresholds)
        }
    has_gt = n_gt > 0
    result["mean"] = {
        t: {
            "accuracy": float(accuracy[has_gt, i].mean()) if has_gt.any() else math.nan,
            "afp": float(afp[:, i].mean()),
        }
        for i, t in enumerate(thresholds)
    }
    return result


class LocalizationMetric(ArrayState):
    """Streaming localization accuracy and average false positives (validate, update, compute).

    Args:
        classes: the class names scored (e.g. the 8 NIH box classes).
        thresholds: overlap thresholds ``T``; a match needs overlap strictly greater than ``T``.
        mode: ``"iobb"`` (ChestX-ray8) or ``"iou"``.
        afp_denominator: divide false positives by this fixed number instead of the number of
            images seen (the seed authors used 880).
        validate_args: check every image's boxes in ``update`` (shapes, finite, positive sizes,
            known classes). Pipelines that built the boxes themselves can skip it (``False``).
        keep_records: also keep each image's counters, for :meth:`records` and
            :meth:`resampled` (the bootstrap).

    Examples:
        >>> metric = LocalizationMetric(["Nodule", "Mass"], thresholds=(0.1, 0.5))
        >>> metric.update({"Nodule": [[10, 10, 10, 10], [50, 50, 5, 5]]},
        ...               {"Nodule": [[12, 12, 20, 20]], "Mass": [[0, 0, 30, 30]]})
        >>> result = metric.compute()
        >>> result["Nodule"][0.1], result["Mass"][0.1]["accuracy"]
        ({'accuracy': 1.0, 'afp': 1.0}, 0.0)
        >>> result["mean"][0.5]
        {'accuracy': 0.5, 'afp': 0.5}
        >>> restored = LocalizationMetric(["Nodule", "Mass"], thresholds=(0.1, 0.5))
        >>> restored.load_state_dict(metric.state_dict())  # arrays only: np.savez-able
        >>> restored.compute() == result
        True
    """

    _COUNTERS = ("hits", "false_positives", "gt_boxes", "images")
    _SETTINGS = ("classes", "thresholds", "mode", "afp_denominator")

    def __init__(
        self,
        classes: Sequence[str],
        thresholds: Sequence[float] = PAPER_THRESHOLDS,
        mode: Mode = "iobb",
        afp_denominator: int | None = None,
        validate_args: bool = True,
        keep_records: bool = False,
    ) -> None:
        self.classes, self.thresholds = _validate_config(classes, thresholds, mode, afp_denominator)
        self.validate_args = validate_args
        self.keep_records = keep_records
        self.mode = mode
        self.afp_denominator = afp_denominator
        self._threshold_array = np.asarray(self.thresholds)
        self.reset()

    @classmethod
    def seed_authors(cls, classes: Sequence[str], keep_records: bool = False) -> LocalizationMetric:
        """The protocol of the seed authors' code: IoU > 0.1, false positives divided by 880."""
        return cls(
            classes,
            thresholds=(HIT_THRESHOLD,),
            mode="iou",
            afp_denominator=SEED_AUTHORS_IMAGES,
            keep_records=keep_records,
        )

    def reset(self) -> None:
        shape = (len(self.classes), len(self.thresholds))
        self.hits = np.zeros(shape, dtype=np.int64)
        self.false_positives = np.zeros(shape, dtype=np.int64)
        self.gt_boxes = np.zeros(len(self.classes), dtype=np.int64)
        self.images = 0
        self._records: dict[str, list[np.ndarray]] = {"hits": [], "gt_boxes": [], "fp": []}

    def update(self, pred_boxes: BoxesPerClass, gt_boxes: BoxesPerClass) -> None:
        """Add one image: ``dict[class name -> (N, 4) xywh]`` for predictions and ground truth."""
        if self.validate_args:
            pred = _validate_image(pred_boxes, self.classes, "pred_boxes")
            gt = _validate_image(gt_boxes, self.classes, "gt_boxes")
        else:
            pred = {
                c: np.asarray(b, dtype=np.float64).reshape(-1, 4) for c, b in pred_boxes.items()
            }
            gt = {c: np.asarray(b, dtype=np.float64).reshape(-1, 4) for c, b in gt_boxes.items()}
        hits, n_gt, false_pos = _image_counts(
            pred, gt, self.classes, self._threshold_array, self.mode
        )
        self.hits += hits
        self.gt_boxes += n_gt
        self.false_positives += false_pos
        self.images += 1
        if self.keep_records:
            for key, value in zip(("hits", "gt_boxes", "fp"), (hits, n_gt, false_pos), strict=True):
                self._records[key].append(value)

    def records(self) -> dict[str, np.ndarray]:
        """Each image's counters, in ``update`` order (then merged metrics' images):
        ``hits`` ``(N, K, T)`` (GT boxes hit), ``gt_boxes`` ``(N, K)``, ``false_positives``
        ``(N, K, T)``; empty unless ``keep_records=True``."""
        k, t = len(self.classes), len(self.thresholds)
        shapes = {"hits": (0, k, t), "gt_boxes": (0, k), "fp": (0, k, t)}
        arrays = {
            key: np.stack(values) if values else np.zeros(shapes[key], dtype=np.int64)
            for key, values in self._records.items()
        }
        return {
            "hits": arrays["hits"],
            "gt_boxes": arrays["gt_boxes"],
            "false_positives": arrays["fp"],
        }

    def resampled(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The metric under per-image ``weights`` ``(R, N)`` (e.g. bootstrap multiplicities).

        Returns:
            ``{"accuracy": (R, K + 1, T), "afp": (R, K + 1, T)}``; index ``K`` is the mean over
            the classes (accuracy: those with GT boxes in the resample). All weights 1 gives
            :meth:`compute`.
        """
        hits = _weighted_sum(weights, self._records["hits"], "metric")
        n_gt = _weighted_sum(weights, self._records["gt_boxes"], "metric")
        false_pos = _weighted_sum(weights, self._records["fp"], "metric")
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = np.where(n_gt[..., None] > 0, hits / n_gt[..., None], np.nan)
        denominator = self.afp_denominator or np.asarray(weights, float).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):  # no image drawn: undefined
            afp = false_pos / np.reshape(denominator, (-1, 1, 1))
        afp_mean = afp.mean(axis=1, keepdims=True)
        return {
            "accuracy": _append_mean(accuracy),
            "afp": np.concatenate([afp, afp_mean], axis=1),
        }

    def compute(self) -> Result:
        """``{class: {T: {"accuracy", "afp"}}}`` plus a ``"mean"`` entry over the classes.

        The mean accuracy averages the classes that have GT boxes; the mean afp all classes.
        """
        denominator = self.afp_denominator or self.images
        return _compute(
            self.hits,
            self.gt_boxes,
            self.false_positives,
            denominator,
            self.classes,
            self.thresholds,
        )


def localization_metrics(
    pred_boxes: Iterable[BoxesPerClass],
    gt_boxes: Iterable[BoxesPerClass],
    classes: Sequence[str],
    thresholds: Sequence[float] = PAPER_THRESHOLDS,
    mode: Mode = "iobb",
    afp_denominator: int | None = None,
) -> Result:
    """Functional form of :class:`LocalizationMetric` over per-image box dicts.

    Examples:
        >>> localization_metrics([{"Mass": [[0, 0, 4, 4]]}], [{"Mass": [[0, 0, 8, 8]]}],
        ...                      ["Mass"], thresholds=(0.5,))["Mass"]
        {0.5: {'accuracy': 1.0, 'afp': 0.0}}
    """
    metric = LocalizationMetric(classes, thresholds, mode, afp_denominator)
    pred_list, gt_list = list(pred_boxes), list(gt_boxes)
    if len(pred_list) != len(gt_list):
        raise ValueError(
            f"Expected one prediction dict per GT dict, got {len(pred_list)} and {len(gt_list)}."
        )
    for pred, gt in zip(pred_list, gt_list, strict=True):
        metric.update(pred, gt)
    return metric.compute()
