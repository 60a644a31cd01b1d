"""Saliency against segmentation masks: mIoU and hit rate as CheXlocalize defines them, PxAP as
wsolevaluation defines it, streaming with per-image records for the bootstrap.

- **mIoU** (Saporta et al. 2022, rajpurkarlab/cheXlocalize ``heatmap_to_segmentation.py``
  ``cam_to_segmentation`` and ``eval.py`` ``calculate_iou``): the map is resized to the image
  (bilinear, half-pixel centres), min-max normalised, and binarised by Otsu's threshold on its
  ``uint8(255 x)`` values (or ``> threshold`` when one is given); every contour of the binary
  map (``RETR_TREE``) is filled as a polygon (holes therefore filled); IoU with the GT mask. With
  ``true_positives_only`` (CheXlocalize's default) a pair whose predicted or GT mask is empty is
  left out. Without it, the pairs are those of CheXlocalize's ``eval.py`` ``get_ious`` with
  ``true_pos_only=False`` (rajpurkarlab/cheXlocalize at 2a79492): every (image, class) given in
  ``masks``, a GT-negative one (an empty mask) included, scores IoU 0 when the prediction is not
  empty, and only pairs whose union is empty are left out. (The scorer passes every mask class
  of every image then, and also scores images found only in the maps against empty masks.)
- **Hit rate** (the same ``eval.py``, ``get_hitrates``): a hit when the resized map's first
  maximum (row-major) lies inside the GT mask.
- **PxAP** (Choe et al. 2020, clovaai/wsolevaluation ``evaluation.py`` ``MaskEvaluator``): the
  map resized (cubic) and min-max normalised; histograms of the score at GT-foreground and
  GT-background pixels over the bins ``[0, s), [s, 2s), ..., [1 - s, 1), [1, 2), [2, 3)``
  (``s`` = 0.001 by default, :data:`PXAP_STEP`);
  precision and recall at each bin edge, and the area under the precision-recall curve. It is
  reported in ``[0, 1]`` (wsolevaluation prints it x 100), per class over the images that have
  the class, and their mean.

Convention:
    Hit rate and PxAP score the (image, class) pairs whose GT mask is non-empty ("localization
    given the class", as CheXlocalize's hit rate does), and so does mIoU by default; means are
    over classes with pairs. A constant map has no Otsu foreground and no hit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from cam_boxes_iobb._state import ArrayState
from cam_boxes_iobb.localization import _append_mean, _weighted_sum
from cam_boxes_iobb.scoremap import scoremap
from cam_boxes_iobb.threshold_free import _check_classes, threshold_grid

MaskThreshold = float | str


def resize_bilinear(saliency: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`` of one map."""
    array = np.asarray(saliency, dtype=np.float32)
    if array.shape == tuple(size):
        return array
    return cv2.resize(array, (int(size[1]), int(size[0])), interpolation=cv2.INTER_LINEAR)


def chexlocalize_segmentation(
    saliency: np.ndarray, threshold: MaskThreshold = "otsu"
) -> np.ndarray:
    """A map already at the image's size -> CheXlocalize's binary segmentation (int ``0``/``1``).

    Examples:
        >>> saliency = np.zeros((20, 20)); saliency[5:10, 5:12] = 1.0
        >>> otsu = chexlocalize_segmentation(saliency)
        >>> int(otsu.sum()), int(chexlocalize_segmentation(saliency, threshold=0.5).sum())
        (35, 35)
    """
    from PIL import Image, ImageDraw

    array = np.asarray(saliency, dtype=np.float32)
    shifted = array - array.min()
    peak = shifted.max()
    if peak <= 0:  # CheXlocalize divides by zero here (NaN); a constant map has no foreground
        return np.zeros(array.shape, dtype=int)
    normalised = shifted / peak
    if threshold != "otsu":
        return np.array(normalised > float(threshold), dtype=int)
    as_bytes = np.uint8(255 * normalised)
    binary = cv2.threshold(as_bytes, 0, int(as_bytes.max()), cv2.THRESH_OTSU)[1]
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    canvas = Image.new("1", (array.shape[1], array.shape[0]))
    draw = ImageDraw.Draw(canvas)
    for contour in contours:
        if len(contour) > 1:
            draw.polygon([(int(p[0][0]), int(p[0][1])) for p in contour], outline=1, fill=1)
    return np.array(canvas, dtype=int)


def mask_iou(pred: np.ndarray, gt: np.ndarray, true_positives_only: bool = True) -> float:
    """CheXlocalize's ``calculate_iou``: NaN where the pair is left out (see the module).

    Examples:
        >>> a = np.zeros((4, 4)); a[:2] = 1; b = np.zeros((4, 4)); b[:, :2] = 1
        >>> mask_iou(a, b), mask_iou(np.zeros((4, 4)), b), mask_iou(np.zeros((4, 4)), b, False)
        (0.3333333333333333, nan, 0.0)
    """
    pred, gt = np.asarray(pred) > 0, np.asarray(gt) > 0
    union = int(np.logical_or(pred, gt).sum())
    if (true_positives_only and (not pred.any() or not gt.any())) or union == 0:
        return math.nan
    return int(np.logical_and(pred, gt).sum()) / union


#: PxAP's bin width by default: wsolevaluation's ``evaluate_wsol`` and training ``config.py``
#: (``cam_curve_interval=.001``; its standalone ``evaluation.py`` command line uses 0.01, and
#: PxAP moves by up to half a point between the two).
PXAP_STEP = 0.001


def pxap_bin_edges(step: float = PXAP_STEP) -> np.ndarray:
    """wsolevaluation's histogram edges: the threshold grid, then 1, 2, 3."""
    return np.append(threshold_grid(step), [1.0, 2.0, 3.0])


def average_precision(positives: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    """PxAP from score histograms ``(..., B)`` at foreground and background pixels
    (wsolevaluation's ``MaskEvaluator.compute``, without its x 100); NaN without foreground.

    Examples:
        >>> foreground, background = np.array([0, 0, 4, 0, 0]), np.array([4, 0, 0, 0, 0])
        >>> float(average_precision(foreground, background))  # separable: every pixel ranked right
        1.0
    """
    positives, negatives = np.asarray(positives, float), np.asarray(negatives, float)
    tp = np.cumsum(positives[..., ::-1], axis=-1)
    fp = np.cumsum(negatives[..., ::-1], axis=-1)
    n_pos = positives.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        recall = tp / n_pos
        terms = precision[..., 1:] * np.diff(recall, axis=-1)
    auc = np.where((tp + fp)[..., 1:] != 0, terms, 0.0).sum(axis=-1)
    return np.where(n_pos[..., 0] > 0, auc, np.nan)


class MaskMetrics(ArrayState):
    """mIoU, hit rate and PxAP over (image, class) pairs with a non-empty GT mask, streaming.

    Args:
        classes: class names scored.
        threshold: ``"otsu"`` (CheXlocalize's default) or a number in ``[0, 1)``: the mIoU's
            binarisation of the min-max-normalised map.
        true_positives_only: CheXlocalize's ``true_pos_only`` (default ``True``).
        pxap_step: the PxAP bin width (:data:`PXAP_STEP`, wsolevaluation's 0.001).
        keep_records: keep each image's results for :meth:`resampled` (the bootstrap).

    Examples:
        >>> gt = np.zeros((32, 32), np.uint8); gt[8:16, 8:16] = 1
        >>> saliency = np.zeros((8, 8)); saliency[2:4, 2:4] = 1.0   # a map at 1/4 of the image
        >>> metric = MaskMetrics(["Edema"])
        >>> metric.update({"Edema": saliency}, {"Edema": gt})
        >>> result = metric.compute()["Edema"]
        >>> result["hit_rate"], round(result["miou"], 3), round(result["pxap"], 3)
        (1.0, 0.8, 0.993)
    """

    _COUNTERS = ("iou_sum", "iou_pairs", "hits", "pairs", "foreground", "background")
    _SETTINGS = ("classes", "threshold", "true_positives_only", "edges")

    def __init__(
        self,
        classes: Sequence[str],
        threshold: MaskThreshold = "otsu",
        true_positives_only: bool = True,
        pxap_step: float = PXAP_STEP,
        keep_records: bool = False,
    ) -> None:
        self.classes = _check_classes(classes)
        if threshold != "otsu" and not (
            isinstance(threshold, int | float) and 0 <= float(threshold) < 1
        ):
            raise ValueError(
                f"Expected `threshold` 'otsu' or a number in [0, 1), got {threshold!r}."
            )
        self.threshold = threshold
        self.true_positives_only = bool(true_positives_only)
        self.edges = pxap_bin_edges(pxap_step)
        self.keep_records = keep_records
        self.reset()

    def reset(self) -> None:
        k, bins = len(self.classes), len(self.edges) - 1
        self.iou_sum = np.zeros(k)
        self.iou_pairs = np.zeros(k, dtype=np.int64)
        self.hits = np.zeros(k, dtype=np.int64)
        self.pairs = np.zeros(k, dtype=np.int64)
        self.foreground = np.zeros((k, bins), dtype=np.int64)
        self.background = np.zeros((k, bins), dtype=np.int64)
        self._records: dict[str, list[np.ndarray]] = {
            key: [] for key in ("iou", "hits", "pairs", "foreground", "background")
        }

    def update(self, saliency: Mapping[str, Any], masks: Mapping[str, Any]) -> None:
        """Add one image: raw maps (class -> ``(h, w)``, any real values) for every class in
        ``masks`` (class -> ``(H, W)`` GT mask in the image's pixels). An empty mask counts only
        for mIoU without ``true_positives_only`` (a GT-negative pair); else it is skipped."""
        k, bins = len(self.classes), len(self.edges) - 1
        iou = np.full(k, np.nan)
        hits, pairs = np.zeros(k, np.int64), np.zeros(k, np.int64)
        foreground, background = np.zeros((k, bins), np.int64), np.zeros((k, bins), np.int64)
        for name, mask in masks.items():
            if name not in self.classes:
                raise ValueError(
                    f"Unknown class {name!r} in `masks`; expected {list(self.classes)}."
                )
            gt = np.asarray(mask) > 0
            if gt.ndim != 2 or (not gt.any() and self.true_positives_only):
                continue
            if name not in saliency:
                raise ValueError(f"`saliency` lacks {name!r}, a class with a GT mask here.")
            c = self.classes.index(name)
            resized = resize_bilinear(saliency[name], gt.shape)
            if not np.isfinite(resized).all():
                raise ValueError(f"`saliency[{name!r}]` holds NaN or inf.")
            iou[c] = mask_iou(
                chexlocalize_segmentation(resized, self.threshold), gt, self.true_positives_only
            )
            if not gt.any():  # a GT-negative pair: mIoU's alone
                continue
            pairs[c] = 1
            row, col = np.unravel_index(int(np.argmax(resized)), resized.shape)
            hits[c] = int(gt[row, col] and resized.max() > resized.min())
            score = scoremap(saliency[name], gt.shape, "minmax", "cubic", f"saliency[{name!r}]")
            foreground[c] = np.histogram(score[gt], bins=self.edges)[0]
            background[c] = np.histogram(score[~gt], bins=self.edges)[0]
        defined = ~np.isnan(iou)
        self.iou_sum += np.where(defined, iou, 0.0)
        self.iou_pairs += defined
        self.hits += hits
        self.pairs += pairs
        self.foreground += foreground
        self.background += background
        if self.keep_records:
            for key, value in zip(
                self._records, (iou, hits, pairs, foreground, background), strict=True
            ):
                self._records[key].append(value)

    def records(self) -> dict[str, np.ndarray]:
        """Each image's ``iou`` ``(N, K)`` (NaN: left out), ``hits``, ``pairs`` ``(N, K)`` and
        PxAP histograms ``foreground``, ``background`` ``(N, K, B)``."""
        k, bins = len(self.classes), len(self.edges) - 1
        empty = {"foreground": (0, k, bins), "background": (0, k, bins)}
        return {
            key: np.stack(values) if values else np.zeros(empty.get(key, (0, k)))
            for key, values in self._records.items()
        }

    @staticmethod
    def _metrics(
        iou_sum: np.ndarray,
        iou_pairs: np.ndarray,
        hits: np.ndarray,
        pairs: np.ndarray,
        foreground: np.ndarray,
        background: np.ndarray,
    ) -> dict[str, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            miou = np.where(iou_pairs > 0, iou_sum / iou_pairs, np.nan)
            hit_rate = np.where(pairs > 0, hits / pairs, np.nan)
        return {
            "miou": _append_mean(miou),
            "hit_rate": _append_mean(hit_rate),
            "pxap": _append_mean(average_precision(foreground, background)),
        }

    def resampled(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """The metrics under per-image ``weights`` ``(R, N)``: ``{"miou", "hit_rate", "pxap"}``,
        each ``(R, K + 1)``, index ``K`` the mean over the classes with pairs."""
        iou = [np.nan_to_num(r, nan=0.0) for r in self._records["iou"]]
        defined = [(~np.isnan(r)).astype(np.int64) for r in self._records["iou"]]
        return self._metrics(
            _weighted_sum(weights, iou, "metric"),
            _weighted_sum(weights, defined, "metric"),
            _weighted_sum(weights, self._records["hits"], "metric"),
            _weighted_sum(weights, self._records["pairs"], "metric"),
            _weighted_sum(weights, self._records["foreground"], "metric"),
            _weighted_sum(weights, self._records["background"], "metric"),
        )

    def compute(self) -> dict[str, dict[str, float]]:
        """``{class: {"miou", "hit_rate", "pxap", "pairs"}}`` plus ``"mean"``."""
        values = self._metrics(*(getattr(self, n)[None] for n in self._COUNTERS))
        result = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for c, name in enumerate([*self.classes, "mean"]):
                result[name] = {key: float(v[0, c]) for key, v in values.items()}
                result[name]["pairs"] = int(
                    self.pairs[c] if c < len(self.classes) else self.pairs.sum()
                )
        return result
