"""Localization metrics that do not hinge on one heatmap threshold, streaming over images.

- :class:`MaxBoxAcc` (Choe et al., "Evaluating Weakly Supervised Object Localization Methods
  Right", CVPR 2020; MaxBoxAccV2 in their TPAMI extension): box accuracy at the best heatmap
  threshold of a grid. V1: the box of the largest contour, IoU >= 0.5. V2
  (:meth:`MaxBoxAcc.v2`): the best of all contours' boxes, IoU thresholds {0.3, 0.5, 0.7}
  averaged.
- :class:`PointingGame` (Zhang et al., "Top-down neural attention by excitation backprop",
  IJCV 2018): a hit when the heatmap's maximum lies within ``tolerance`` pixels of a GT box.
- :class:`ThresholdCurve`: the ChestX-ray8 protocol (accuracy at overlap > ``T``, false positives)
  at every heatmap threshold of a grid, to plot, and to choose the threshold on held-out images
  (:meth:`ThresholdCurve.best_threshold`).

Convention:
    ``MaxBoxAcc`` and ``PointingGame`` take class maps of any real values and make their score
    maps themselves (:mod:`cam_boxes_iobb.scoremap`): by default as wsolevaluation does (resized to
    ``size`` with cubic interpolation, then min-max normalised); ``normalization="max"`` is the
    paper's heatmap, ``"none"`` takes maps already in ``[0, 1]``. GT boxes are ``xywh`` in the
    pixels of ``size`` (of the map when no size is given). ``MaxBoxAcc(convention="exact")``
    thresholds the float map (``>= tau``), takes external contours and exact box areas;
    ``convention="wsolevaluation"`` reproduces ``evaluation.py`` to the pixel: the map as uint8
    (``x * 255`` truncated), ``> int(tau * max)``, every contour of ``RETR_TREE``, boxes
    ``x0, y0, x + w, y + h`` clipped to ``width - 1``, IoU counting ``+1`` pixel per side against
    GT boxes truncated to integers, and a ``[0, 0, 0, 0]`` box where no contour is found. The
    pointing game (Zhang et al.) resizes the map to ``size`` — the *original* image, whose pixels
    the tolerance is in — before taking its peak. ``MaxBoxAcc`` and ``PointingGame`` score each
    (image, class) pair that has GT boxes of that class, with that class's heatmap whatever the
    classifier predicted (localization given the class, as in WSOL); an image with several GT
    boxes of a class counts once, matched against its best-overlapping GT box. The mask at
    threshold ``tau`` is ``heatmap >= tau``; ``tau = 0`` keeps every pixel, and a threshold above
    the map's maximum gives no box (a miss). The pointing game's peak is the first maximum in
    row-major order, at the pixel's centre; a map without a positive value is a miss. Means are
    over the classes that have GT boxes; ``MaxBoxAcc``'s mean takes one threshold for all
    classes (the best of the class-averaged curve), its per-class values each their own.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import cv2
import numpy as np

from cam_boxes_iobb._arrays import as_numpy, check_finite
from cam_boxes_iobb._state import ArrayState
from cam_boxes_iobb.boxes import check_boxes, iou_matrix
from cam_boxes_iobb.heatmap import contour_boxes
from cam_boxes_iobb.localization import LocalizationMetric, Mode, _append_mean, _weighted_sum
from cam_boxes_iobb.scoremap import Interpolation, Normalization, check_choices, scoremap

V2_IOU_THRESHOLDS: tuple[float, ...] = (0.3, 0.5, 0.7)
Convention = Literal["exact", "wsolevaluation"]
CONVENTIONS: tuple[str, ...] = ("exact", "wsolevaluation")


def threshold_grid(step: float = 0.01) -> np.ndarray:
    """``[0, step, 2 step, ...] < 1``, the heatmap thresholds of Choe et al.'s curves.

    Examples:
        >>> threshold_grid(0.25).tolist()
        [0.0, 0.25, 0.5, 0.75]
    """
    if not (isinstance(step, int | float) and 0 < step < 1):
        raise ValueError(f"Expected `step` in (0, 1), got {step!r}.")
    return np.arange(0.0, 1.0, step)


def boxes_at(heatmap: np.ndarray, threshold: float, largest_only: bool = False) -> np.ndarray:
    """``(N, 4)`` ``xywh`` boxes of the external contours of ``heatmap >= threshold`` (only the
    largest contour's with ``largest_only``, as MaxBoxAcc V1). ``heatmap`` is not validated.

    Examples:
        >>> heatmap = np.zeros((6, 6), np.float32); heatmap[1:3, 1:4] = 1; heatmap[4, 4] = 0.9
        >>> sorted(boxes_at(heatmap, 0.5).tolist()), boxes_at(heatmap, 0.5, True).tolist()
        ([[1.0, 1.0, 3.0, 2.0], [4.0, 4.0, 1.0, 1.0]], [[1.0, 1.0, 3.0, 2.0]])
    """
    return contour_boxes(heatmap >= threshold, largest_only)


def _check_heatmap(heatmap: Any, name: str) -> np.ndarray:
    array = as_numpy(heatmap, name, dtype=np.float32)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"Expected `{name}` of shape (H, W), got shape {array.shape}.")
    check_finite(array, name)
    if array.min() < 0 or array.max() > 1:
        raise ValueError(
            f"Expected `{name}` in [0, 1] (normalize_heatmap), got [{array.min()}, {array.max()}]."
        )
    return array


def _pairs(
    heatmaps: Mapping[str, Any],
    gt_boxes: Mapping[str, Any],
    classes: Sequence[str],
    size: tuple[int, int] | None,
    normalization: Normalization,
    interpolation: Interpolation,
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(class index, score map, GT boxes)`` for each class of ``classes`` with GT boxes, each
    class map made a score map by :func:`~cam_boxes_iobb.scoremap.scoremap` (resized to ``size``
    and normalised as asked)."""
    unknown = sorted(set(gt_boxes) - set(classes))
    if unknown:
        raise ValueError(f"Unknown class names in `gt_boxes`: {unknown}; expected {list(classes)}.")
    pairs = []
    for name, boxes in gt_boxes.items():
        gt = check_boxes(boxes, f"gt_boxes[{name!r}]")
        if len(gt) == 0:
            continue
        if name not in heatmaps:
            raise ValueError(f"`heatmaps` lacks {name!r}, a class with GT boxes in this image.")
        score = scoremap(heatmaps[name], size, normalization, interpolation, f"heatmaps[{name!r}]")
        pairs.append((classes.index(name), score, gt))
    return pairs


def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    classes = tuple(classes)
    if not classes or len(set(classes)) != len(classes) or "mean" in classes:
        raise ValueError(f"Expected distinct class names other than 'mean', got {classes}.")
    return classes


def _wsol_boxes(scoremap_: np.ndarray, tau: float, multi_contour: bool) -> np.ndarray:
    """wsolevaluation's ``scoremap2bbox``: ``(N, 4)`` ``x0, y0, x1, y1`` integer boxes.

    A transcription, not :func:`~cam_boxes_iobb.heatmap.contour_boxes`: its 8-bit threshold,
    ``RETR_TREE`` and clipped corners are what its published numbers were computed with."""
    height, width = scoremap_.shape
    image = (scoremap_ * 255).astype(np.uint8)
    _, mask = cv2.threshold(image, int(tau * np.max(image)), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(mask, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return np.zeros((1, 4), dtype=np.int64)
    if not multi_contour:
        contours = [max(contours, key=cv2.contourArea)]
    boxes = np.array([cv2.boundingRect(c) for c in contours], dtype=np.int64)
    x1 = np.minimum(boxes[:, 0] + boxes[:, 2], width - 1)
    y1 = np.minimum(boxes[:, 1] + boxes[:, 3], height - 1)
    return np.stack([boxes[:, 0], boxes[:, 1], x1, y1], axis=1)


def _wsol_iou(boxes: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """wsolevaluation's ``calculate_multiple_iou`` on ``x0, y0, x1, y1`` boxes (+1 per side)."""
    left = np.maximum(boxes[:, None, 0], gt[None, :, 0])
    top = np.maximum(boxes[:, None, 1], gt[None, :, 1])
    right = np.minimum(boxes[:, None, 2], gt[None, :, 2])
    bottom = np.minimum(boxes[:, None, 3], gt[None, :, 3])
    inter = np.maximum(0, right - left + 1) * np.maximum(0, bottom - top + 1)
    area_a = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    area_b = (gt[:, 2] - gt[:, 0] + 1) * (gt[:, 3] - gt[:, 1] + 1)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _wsol_best_ious(
    scoremap_: np.ndarray, thresholds: np.ndarray, multi_contour: bool, gt_xywh: np.ndarray
) -> np.ndarray:
    """The best IoU with any GT box at each threshold, as wsolevaluation's ``accumulate``."""
    gt = np.stack(
        [
            gt_xywh[:, 0].astype(np.int64),
            gt_xywh[:, 1].astype(np.int64),
            (gt_xywh[:, 0] + gt_xywh[:, 2]).astype(np.int64),
            (gt_xywh[:, 1] + gt_xywh[:, 3]).astype(np.int64),
        ],
        axis=1,
    )
    return np.array(
        [_wsol_iou(_wsol_boxes(scoremap_, tau, multi_contour), gt).max() for tau in thresholds]
    )


class MaxBoxAcc(ArrayState):
    """MaxBoxAcc (V1) and MaxBoxAccV2 of Choe et al. (2020), per class, streaming.

    For every threshold ``tau`` of the grid and IoU threshold ``delta``, BoxAcc is the share of
    (image, class) pairs whose box(es) at ``tau`` reach IoU >= ``delta`` with a GT box; MaxBoxAcc
    is its maximum over ``tau``, averaged over ``delta``.

    Args:
        classes: class names scored.
        thresholds: heatmap thresholds (default :func:`threshold_grid` at 0.01).
        iou_thresholds: V1 ``(0.5,)``; V2 ``(0.3, 0.5, 0.7)``.
        largest_only: V1 takes the largest contour's box; V2 the best of all contours' boxes.
        keep_records: keep each image's results for :meth:`records` and :meth:`resampled`.
        normalization: how class maps become score maps: ``"minmax"`` (wsolevaluation),
            ``"max"`` (the paper's heatmap) or ``"none"`` (maps already in ``[0, 1]``).
        interpolation: the resize to ``update``'s ``size``: ``"cubic"`` (wsolevaluation),
            ``"linear"`` or ``"nearest"``.
        convention: ``"exact"`` or ``"wsolevaluation"`` (boxes and IoU as its
            ``evaluation.py``; see the module's Convention).

    Examples:
        >>> heatmap = np.zeros((10, 10)); heatmap[2:6, 2:6] = 1.0; heatmap[2:6, 6:8] = 0.4
        >>> metric = MaxBoxAcc.v2(["Mass"])
        >>> metric.update({"Mass": heatmap}, {"Mass": [[2, 2, 4, 4]]})
        >>> result = metric.compute()
        >>> result["Mass"]["max_box_acc"], result["Mass"]["optimal_threshold"]
        (1.0, {0.3: 0.01, 0.5: 0.01, 0.7: 0.41})
    """

    _COUNTERS = ("correct", "pairs")
    _SETTINGS = (
        "classes",
        "thresholds",
        "iou_thresholds",
        "largest_only",
        "normalization",
        "interpolation",
        "convention",
    )

    def __init__(
        self,
        classes: Sequence[str],
        thresholds: Sequence[float] | None = None,
        iou_thresholds: Sequence[float] = (0.5,),
        largest_only: bool = True,
        keep_records: bool = False,
        normalization: Normalization = "minmax",
        interpolation: Interpolation = "cubic",
        convention: Convention = "exact",
    ) -> None:
        self.classes = _check_classes(classes)
        self.keep_records = keep_records
        check_choices(normalization, interpolation)
        if convention not in CONVENTIONS:
            raise ValueError(f"Expected `convention` one of {CONVENTIONS}, got {convention!r}.")
        self.normalization, self.interpolation = normalization, interpolation
        self.convention = convention
        self.thresholds = np.asarray(threshold_grid() if thresholds is None else thresholds, float)
        if self.thresholds.ndim != 1 or not ((self.thresholds >= 0) & (self.thresholds <= 1)).all():
            raise ValueError(f"Expected `thresholds` in [0, 1], got {self.thresholds.tolist()}.")
        self.iou_thresholds = tuple(float(d) for d in iou_thresholds)
        if not self.iou_thresholds or not all(0 < d <= 1 for d in self.iou_thresholds):
            raise ValueError(f"Expected `iou_thresholds` in (0, 1], got {self.iou_thresholds}.")
        self.largest_only = largest_only
        self.reset()

    @classmethod
    def v2(
        cls,
        classes: Sequence[str],
        thresholds: Sequence[float] | None = None,
        keep_records: bool = False,
        **settings: Any,
    ) -> MaxBoxAcc:
        """MaxBoxAccV2: all contours' boxes, IoU thresholds {0.3, 0.5, 0.7} (``settings``:
        ``normalization``, ``interpolation``, ``convention``)."""
        return cls(classes, thresholds, V2_IOU_THRESHOLDS, False, keep_records, **settings)

    def reset(self) -> None:
        self.correct = np.zeros(
            (len(self.classes), len(self.thresholds), len(self.iou_thresholds)), dtype=np.int64
        )
        self.pairs = np.zeros(len(self.classes), dtype=np.int64)
        self._records: dict[str, list[np.ndarray]] = {"correct": [], "pairs": []}

    def update(
        self,
        heatmaps: Mapping[str, Any],
        gt_boxes: Mapping[str, Any],
        size: tuple[int, int] | None = None,
    ) -> None:
        """Add one image: class maps (class -> ``(h, w)``) for at least every class with GT
        boxes, ``gt_boxes`` (class -> ``(N, 4)`` ``xywh`` in the pixels of ``size``), and the
        image's ``(height, width)`` the maps are resized to (none: the maps' own)."""
        deltas = np.asarray(self.iou_thresholds)
        correct, pairs = np.zeros_like(self.correct, dtype=bool), np.zeros_like(self.pairs)
        scored = _pairs(
            heatmaps, gt_boxes, self.classes, size, self.normalization, self.interpolation
        )
        for k, heatmap, gt in scored:
            if self.convention == "wsolevaluation":
                best = _wsol_best_ious(heatmap, self.thresholds, not self.largest_only, gt)
            else:
                best = np.zeros(len(self.thresholds))
                for i, tau in enumerate(self.thresholds):
                    boxes = boxes_at(heatmap, tau, self.largest_only)
                    if len(boxes):
                        best[i] = iou_matrix(boxes, gt).max()
            correct[k] = best[:, None] >= deltas[None, :]
            pairs[k] = 1
        self.correct += correct
        self.pairs += pairs
        if self.keep_records:
            self._records["correct"].append(correct)
            self._records["pairs"].append(pairs)

    def records(self) -> dict[str, np.ndarray]:
        """Each image's results in ``update`` order: ``correct`` ``(N, K, T, D)`` (bool: its box
        at heatmap threshold ``T`` reaches IoU threshold ``D``) and ``pairs`` ``(N, K)`` (1 where
        the image has GT boxes of the class); empty unless ``keep_records=True``."""
        shape = self.correct.shape
        return {
            "correct": np.stack(self._records["correct"])
            if self._records["correct"]
            else np.zeros((0, *shape), bool),
            "pairs": np.stack(self._records["pairs"])
            if self._records["pairs"]
            else np.zeros((0, len(self.classes)), np.int64),
        }

    def resampled(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """MaxBoxAcc under per-image ``weights`` ``(R, N)``: ``{"max_box_acc": (R, K + 1)}``,
        index ``K`` the mean (one shared threshold, as :meth:`compute`)."""
        correct = _weighted_sum(weights, self._records["correct"], "metric")
        pairs = _weighted_sum(weights, self._records["pairs"], "metric")
        with np.errstate(invalid="ignore", divide="ignore"):
            curves = np.where(pairs[..., None, None] > 0, correct / pairs[..., None, None], np.nan)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "(All-NaN|Mean of empty)", RuntimeWarning)
            per_class = np.nanmax(curves, axis=2).mean(axis=-1)
            mean_curve = np.nanmean(curves, axis=1)  # (R, T, D) over the scored classes
            mean = np.max(mean_curve, axis=1).mean(axis=-1)
        return {"max_box_acc": np.concatenate([per_class, mean[:, None]], axis=1)}

    def curves(self) -> np.ndarray:
        """BoxAcc ``(K, T, D)`` per class, heatmap threshold and IoU threshold (NaN: no pairs)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.correct / self.pairs[:, None, None]

    def compute(self) -> dict[str, dict[str, Any]]:
        """``{class: {"max_box_acc", "optimal_threshold": {delta: tau}, "pairs"}}`` and
        ``"mean"`` (one shared threshold per ``delta``)."""
        curves = self.curves()
        result: dict[str, dict[str, Any]] = {}
        for k, name in enumerate(self.classes):
            result[name] = self._summary(curves[k], int(self.pairs[k]))
        scored = self.pairs > 0
        mean_curve = (
            curves[scored].mean(axis=0) if scored.any() else np.full(curves.shape[1:], math.nan)
        )
        result["mean"] = self._summary(mean_curve, int(self.pairs.sum()))
        return result

    def _summary(self, curve: np.ndarray, pairs: int) -> dict[str, Any]:
        if pairs == 0 or np.isnan(curve).all():
            return {"max_box_acc": math.nan, "optimal_threshold": {}, "pairs": pairs}
        best = curve.argmax(axis=0)  # first maximum: the lowest threshold among ties
        return {
            "max_box_acc": float(curve.max(axis=0).mean()),
            "optimal_threshold": {
                d: round(float(self.thresholds[best[j]]), 6)
                for j, d in enumerate(self.iou_thresholds)
            },
            "pairs": pairs,
        }


class PointingGame(ArrayState):
    """The pointing game of Zhang et al. (2018), per class, streaming.

    Args:
        classes: class names scored.
        tolerance: a hit when the peak lies within this many pixels of a GT box (theirs: 15),
            in the pixels of ``update``'s ``size``: pass the *original* image's size (NIH: the
            1024 frame) and GT boxes in its pixels, as Zhang et al. resize the map to the image.
        keep_records: keep each image's results for :meth:`records` and :meth:`resampled`.
        interpolation: the resize to ``size`` (``"linear"``, ``"cubic"``, ``"nearest"``).

    Examples:
        >>> heatmap = np.zeros((40, 40)); heatmap[30, 5] = 1.0
        >>> metric = PointingGame(["Nodule"], tolerance=15)
        >>> metric.update({"Nodule": heatmap}, {"Nodule": [[10, 10, 10, 10]]})
        >>> metric.compute()["Nodule"]  # peak (5.5, 30.5): 4.5 px left of, 10.5 px below the box
        {'accuracy': 1.0, 'pairs': 1}
    """

    _COUNTERS = ("hits", "pairs")
    _SETTINGS = ("classes", "tolerance", "interpolation")

    def __init__(
        self,
        classes: Sequence[str],
        tolerance: float = 15.0,
        keep_records: bool = False,
        interpolation: Interpolation = "linear",
    ) -> None:
        self.classes = _check_classes(classes)
        self.keep_records = keep_records
        check_choices("minmax", interpolation)
        self.interpolation = interpolation
        if not (isinstance(tolerance, int | float) and tolerance >= 0):
            raise ValueError(f"Expected `tolerance` >= 0 pixels, got {tolerance!r}.")
        self.tolerance = float(tolerance)
        self.reset()

    def reset(self) -> None:
        self.hits = np.zeros(len(self.classes), dtype=np.int64)
        self.pairs = np.zeros(len(self.classes), dtype=np.int64)
        self._records: dict[str, list[np.ndarray]] = {"hits": [], "pairs": []}

    def update(
        self,
        heatmaps: Mapping[str, Any],
        gt_boxes: Mapping[str, Any],
        size: tuple[int, int] | None = None,
    ) -> None:
        """Add one image: class maps (any real values) for every class with GT boxes, GT boxes
        ``xywh`` in the pixels of ``size``, the original image's ``(height, width)``."""
        hits, pairs = np.zeros_like(self.hits), np.zeros_like(self.pairs)
        for k, heatmap, gt in _pairs(
            heatmaps, gt_boxes, self.classes, size, "minmax", self.interpolation
        ):
            pairs[k] = 1
            if heatmap.max() <= 0:  # a constant map has no peak
                continue
            row, col = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
            x, y = col + 0.5, row + 0.5
            dx = np.maximum(np.maximum(gt[:, 0] - x, 0), x - (gt[:, 0] + gt[:, 2]))
            dy = np.maximum(np.maximum(gt[:, 1] - y, 0), y - (gt[:, 1] + gt[:, 3]))
            hits[k] = bool((np.hypot(dx, dy) <= self.tolerance).any())
        self.hits += hits
        self.pairs += pairs
        if self.keep_records:
            self._records["hits"].append(hits)
            self._records["pairs"].append(pairs)

    def records(self) -> dict[str, np.ndarray]:
        """Each image's ``hits`` and ``pairs``, ``(N, K)`` each, in ``update`` order; empty
        unless ``keep_records=True``."""
        return {
            key: np.stack(values) if values else np.zeros((0, len(self.classes)), np.int64)
            for key, values in self._records.items()
        }

    def resampled(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The pointing game under per-image ``weights`` ``(R, N)``:
        ``{"accuracy": (R, K + 1)}``, index ``K`` the mean over the scored classes."""
        hits = _weighted_sum(weights, self._records["hits"], "metric")
        pairs = _weighted_sum(weights, self._records["pairs"], "metric")
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy = np.where(pairs > 0, hits / pairs, np.nan)
        return {"accuracy": _append_mean(accuracy)}

    def compute(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        for k, name in enumerate(self.classes):
            accuracy = self.hits[k] / self.pairs[k] if self.pairs[k] else math.nan
            result[name] = {"accuracy": float(accuracy), "pairs": int(self.pairs[k])}
        scored = [result[c]["accuracy"] for c in self.classes if self.pairs[self.classes.index(c)]]
        result["mean"] = {
            "accuracy": float(np.mean(scored)) if scored else math.nan,
            "pairs": int(self.pairs.sum()),
        }
        return result


class ThresholdCurve:
    """The ChestX-ray8 protocol at every heatmap threshold of a grid (accuracy-vs-threshold).

    Args:
        classes: class names scored.
        thresholds: heatmap thresholds in ``(0, 1]`` (default 0.05, 0.10, ..., 0.95).
        overlap: a GT box is hit at overlap > ``overlap`` (the paper's tables: 0.1).
        mode: ``"iobb"`` (ChestX-ray8) or ``"iou"``.
        keep_records: keep each image's counters for :meth:`resampled`.

    ``update`` takes the heatmaps of the classes the classifier *predicts* (as the fixed-threshold
    protocol does), so false positives count as in Tables 2-3.

    Examples:
        >>> heatmap = np.zeros((10, 10)); heatmap[2:6, 2:6] = 1.0; heatmap[0:2, 8:10] = 0.5
        >>> curve = ThresholdCurve(["Mass"], thresholds=(0.3, 0.7))
        >>> curve.update({"Mass": heatmap}, {"Mass": [[2, 2, 4, 4]]})
        >>> curve.compute()["afp"]["Mass"], curve.best_threshold()
        ([1.0, 0.0], 0.7)
    """

    def __init__(
        self,
        classes: Sequence[str],
        thresholds: Sequence[float] | None = None,
        overlap: float = 0.1,
        mode: Mode = "iobb",
        keep_records: bool = False,
    ) -> None:
        self.classes = _check_classes(classes)
        grid = np.round(np.arange(0.05, 1.0, 0.05), 6) if thresholds is None else thresholds
        self.thresholds = tuple(float(t) for t in grid)
        if not self.thresholds or not all(0 < t <= 1 for t in self.thresholds):
            raise ValueError(f"Expected `thresholds` in (0, 1], got {self.thresholds}.")
        self.overlap, self.mode = float(overlap), mode
        self.metrics = [
            LocalizationMetric(
                self.classes, (overlap,), mode, validate_args=False, keep_records=keep_records
            )
            for _ in self.thresholds
        ]

    def update(self, heatmaps: Mapping[str, Any], gt_boxes: Mapping[str, Any]) -> None:
        unknown = sorted((set(heatmaps) | set(gt_boxes)) - set(self.classes))
        if unknown:
            raise ValueError(f"Unknown class names: {unknown}; expected {list(self.classes)}.")
        checked = {name: _check_heatmap(h, f"heatmaps[{name!r}]") for name, h in heatmaps.items()}
        gt = {name: check_boxes(b, f"gt_boxes[{name!r}]") for name, b in gt_boxes.items()}
        for tau, metric in zip(self.thresholds, self.metrics, strict=True):  # validated once
            metric.update({name: boxes_at(h, tau) for name, h in checked.items()}, gt)

    def merge(self, other: ThresholdCurve) -> None:
        if (other.classes, other.thresholds, other.overlap, other.mode) != (
            self.classes,
            self.thresholds,
            self.overlap,
            self.mode,
        ):
            raise ValueError("Cannot merge threshold curves with different settings.")
        for mine, theirs in zip(self.metrics, other.metrics, strict=True):
            mine.merge(theirs)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Each heatmap threshold's :meth:`LocalizationMetric.state_dict`, keys prefixed
        ``"<index>."``."""
        return {
            f"{i}.{key}": value
            for i, metric in enumerate(self.metrics)
            for key, value in metric.state_dict().items()
        }

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned into a curve of the same settings."""
        for i, metric in enumerate(self.metrics):
            prefix = f"{i}."
            metric.load_state_dict(
                {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
            )

    def resampled(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The curve under per-image ``weights`` ``(R, N)``: ``{"accuracy": (R, K + 1, T),
        "afp": (R, K + 1, T)}`` over the heatmap thresholds, index ``K`` the mean."""
        parts = [metric.resampled(weights) for metric in self.metrics]
        return {key: np.concatenate([p[key] for p in parts], axis=2) for key in ("accuracy", "afp")}

    def compute(self) -> dict[str, Any]:
        """``{"thresholds": [...], "accuracy": {class: [...]}, "afp": {class: [...]}}`` with a
        ``"mean"`` entry in each."""
        results = [metric.compute() for metric in self.metrics]
        names = [*self.classes, "mean"]
        return {
            "thresholds": list(self.thresholds),
            "accuracy": {c: [r[c][self.overlap]["accuracy"] for r in results] for c in names},
            "afp": {c: [r[c][self.overlap]["afp"] for r in results] for c in names},
        }

    def best_threshold(self) -> float:
        """The heatmap threshold of the highest mean accuracy; among ties, the one with the
        fewest false positives, then the lowest. The middle of the grid when nothing was scored.
        """
        result = self.compute()
        accuracy = np.asarray(result["accuracy"]["mean"], dtype=float)
        if np.isnan(accuracy).all():
            return self.thresholds[len(self.thresholds) // 2]
        afp = np.asarray(result["afp"]["mean"], dtype=float)
        order = np.lexsort((np.arange(len(accuracy)), afp, -np.nan_to_num(accuracy, nan=-1.0)))
        return self.thresholds[int(order[0])]
