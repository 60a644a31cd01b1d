"""Score a set of class maps against localization ground truth in the neutral form: every
metric of this package, streaming over images, each figure with a patient-level interval, and
paired differences between map sets scored on the same images.

Boxes (per class the data set boxes):

- the ChestX-ray8 protocol of D'Souza et al. (2022): heatmap = ReLU, resize, divide by the max;
  boxes of ``heatmap >= Q``; kept only where the classifier's probability exceeds
  ``prob_threshold`` (when the maps come with probabilities); accuracy at IoBB > T and false
  positives per image (:class:`~cam_boxes_iobb.LocalizationMetric`), also by IoU;
- MaxBoxAccV1 and V2 as wsolevaluation computes them (:class:`~cam_boxes_iobb.MaxBoxAcc`);
- the pointing game in the annotation's frame (:class:`~cam_boxes_iobb.PointingGame`), its
  tolerance in the original image's pixels.

Masks (per class the data set segments): mIoU and hit rate as CheXlocalize, PxAP as
wsolevaluation (:class:`~cam_boxes_iobb.mask_metrics.MaskMetrics`).

Convention:
    Box metrics are computed at ``score_size`` when it is given (the boxes scaled from each
    image's frame to it; e.g. a network's input size, as a training run scores), otherwise in
    each image's own frame; the pointing game and the mask metrics always in the frame. Every
    annotated image must have maps (else the score is refused, naming them); maps of images
    the annotations lack are ignored and counted. Intervals resample patients
    (:func:`~cam_boxes_iobb.bootstrap`): they cover the test images' sampling, not the training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cam_boxes_iobb.annotations import Annotations, ImageAnnotation
from cam_boxes_iobb.bootstrap import Intervals, bootstrap
from cam_boxes_iobb.heatmap import heatmap_to_boxes, normalize_heatmap
from cam_boxes_iobb.localization import PAPER_THRESHOLDS, LocalizationMetric
from cam_boxes_iobb.maps import ImageMaps, MapsError, MapSet
from cam_boxes_iobb.mask_metrics import PXAP_STEP, MaskMetrics, MaskThreshold
from cam_boxes_iobb.threshold_free import MaxBoxAcc, PointingGame

#: Metric names of a score, with what each means (the report's legend).
METRICS: dict[str, str] = {
    "accuracy": "share of GT boxes hit by a predicted box with overlap > T (IoBB), at heatmap "
    "threshold Q",
    "afp": "predicted boxes that hit no GT box (IoBB > T), per image",
    "accuracy_iou": "as accuracy, with IoU > T",
    "afp_iou": "as afp, with IoU > T",
    "max_box_acc_v1": "MaxBoxAcc: the largest contour's box, IoU >= 0.5, best heatmap threshold",
    "max_box_acc_v2": "MaxBoxAccV2: any contour's box, IoU 0.3/0.5/0.7 averaged, best threshold",
    "pointing_game": "the map's peak within the tolerance of a GT box (annotation frame)",
    "miou": "mean IoU of the Otsu-thresholded map with the GT mask (CheXlocalize)",
    "hit_rate": "the map's peak inside the GT mask (CheXlocalize)",
    "pxap": "area under the pixel precision-recall curve (wsolevaluation's PxAP, in [0, 1])",
}
BOX_METRICS = (
    "accuracy",
    "afp",
    "accuracy_iou",
    "afp_iou",
    "max_box_acc_v1",
    "max_box_acc_v2",
    "pointing_game",
)
MASK_METRICS = ("miou", "hit_rate", "pxap")


class ScoreError(ValueError):
    """Maps and annotations that cannot be scored together; the message says why."""


#: The most bootstrap resamples a score takes (each holds a row per image and metric).
MAX_RESAMPLES = 1_000_000


@dataclass(frozen=True)
class ScoreSettings:
    """How maps are scored (defaults: the paper's protocol and the sources' own settings).

    Attributes:
        heatmap_threshold: Q of the fixed protocol.
        prob_threshold: keep a class's boxes where its probability exceeds this (only when the
            maps carry probabilities; ``None``: never gate).
        overlaps: the overlap thresholds T of the fixed protocol.
        headline_overlap: the T the headline table shows.
        pointing_tolerance: pixels of the annotation frame.
        score_size: ``(height, width)`` to score boxes at, or ``None`` (each image's frame).
        mask_threshold: ``"otsu"`` or a number (mIoU's binarisation).
        true_positives_only: CheXlocalize's mIoU setting.
        pxap_step: PxAP's bin width (wsolevaluation's ``evaluate_wsol`` default, 0.001).
        max_box_acc_v1: also MaxBoxAccV1 (a second pass of 100 thresholds per box pair).
        resamples, confidence, seed: the patient bootstrap (``resamples=0``: no intervals, and
            no per-image records kept: memory stays flat).
    """

    heatmap_threshold: float = 0.7
    prob_threshold: float | None = 0.5
    overlaps: tuple[float, ...] = PAPER_THRESHOLDS
    headline_overlap: float = 0.1
    pointing_tolerance: float = 15.0
    score_size: tuple[int, int] | None = None
    mask_threshold: MaskThreshold = "otsu"
    true_positives_only: bool = True
    pxap_step: float = PXAP_STEP
    max_box_acc_v1: bool = True
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.heatmap_threshold <= 1:
            raise ScoreError(f"heatmap_threshold must lie in (0, 1], got {self.heatmap_threshold}.")
        if self.prob_threshold is not None and not 0 <= self.prob_threshold < 1:
            raise ScoreError(f"prob_threshold must lie in [0, 1), got {self.prob_threshold}.")
        if self.headline_overlap not in self.overlaps:
            raise ScoreError(f"headline_overlap {self.headline_overlap} is not in {self.overlaps}.")
        if self.score_size is not None and (
            len(self.score_size) != 2 or min(self.score_size) < 1 or max(self.score_size) > 1 << 14
        ):
            raise ScoreError(
                f"score_size must be (height, width) in pixels, got {self.score_size}."
            )
        if self.mask_threshold != "otsu" and not (
            isinstance(self.mask_threshold, int | float) and 0 <= self.mask_threshold < 1
        ):
            raise ScoreError(
                f"mask_threshold must be 'otsu' or in [0, 1), got {self.mask_threshold!r}."
            )
        if not (isinstance(self.pxap_step, int | float) and 0 < self.pxap_step <= 0.5):
            raise ScoreError(f"pxap_step must lie in (0, 0.5], got {self.pxap_step!r}.")
        if not (isinstance(self.resamples, int) and 0 <= self.resamples <= MAX_RESAMPLES):
            raise ScoreError(
                f"resamples must be an integer in [0, {MAX_RESAMPLES}], got {self.resamples!r}."
            )
        if not 0 < self.confidence < 1:
            raise ScoreError(f"confidence must lie in (0, 1), got {self.confidence!r}.")
        if not (math.isfinite(self.pointing_tolerance) and self.pointing_tolerance >= 0):
            raise ScoreError(
                f"pointing_tolerance must be a finite number >= 0, got {self.pointing_tolerance}."
            )
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**32):
            raise ScoreError(f"seed must be an integer in [0, 2**32), got {self.seed!r}.")

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["overlaps"] = list(self.overlaps)
        values["score_size"] = None if self.score_size is None else list(self.score_size)
        return values


def _scale(boxes: np.ndarray, image: ImageAnnotation, size: tuple[int, int]) -> np.ndarray:
    factor = np.array([size[1] / image.width, size[0] / image.height] * 2)
    return boxes * factor


@dataclass
class MapScorer:
    """Streaming scorer of one map set (:meth:`update` per image, then :meth:`result`).

    Args:
        box_classes: classes scored with the box metrics (in the maps' and data set's common order).
        mask_classes: classes scored with the mask metrics.
        map_classes: the maps' class order (to find each scored class's map).
        settings: :class:`ScoreSettings`.
    """

    box_classes: tuple[str, ...]
    mask_classes: tuple[str, ...]
    map_classes: tuple[str, ...]
    settings: ScoreSettings = field(default_factory=ScoreSettings)
    image_ids: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        keep = self.settings.resamples > 0
        s = self.settings
        self.metrics: dict[str, Any] = {}
        if self.box_classes:
            self.metrics["fixed_iobb"] = LocalizationMetric(
                self.box_classes, s.overlaps, "iobb", keep_records=keep
            )
            self.metrics["fixed_iou"] = LocalizationMetric(
                self.box_classes, s.overlaps, "iou", keep_records=keep
            )
            if s.max_box_acc_v1:
                self.metrics["max_box_acc_v1"] = MaxBoxAcc(self.box_classes, keep_records=keep)
            self.metrics["max_box_acc_v2"] = MaxBoxAcc.v2(self.box_classes, keep_records=keep)
            self.metrics["pointing_game"] = PointingGame(
                self.box_classes, s.pointing_tolerance, keep_records=keep
            )
        if self.mask_classes:
            self.metrics["masks"] = MaskMetrics(
                self.mask_classes,
                s.mask_threshold,
                s.true_positives_only,
                s.pxap_step,
                keep_records=keep,
            )
        self._index = {c: i for i, c in enumerate(self.map_classes)}

    def localize(
        self, maps: np.ndarray, probs: np.ndarray | None, size: tuple[int, int]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The fixed protocol on one image: ``(boxes, heatmaps)`` per box class predicted above
        the probability threshold, ``xywh`` in pixels of ``size`` and the ``[0, 1]`` heatmaps."""
        s = self.settings
        boxes, heatmaps = {}, {}
        for name in self.box_classes:
            k = self._index[name]
            if probs is not None and s.prob_threshold is not None and probs[k] <= s.prob_threshold:
                continue
            heatmaps[name] = normalize_heatmap(maps[k], size)
            boxes[name] = heatmap_to_boxes(heatmaps[name], s.heatmap_threshold)
        return boxes, heatmaps

    def update_boxes(
        self,
        maps: np.ndarray,
        probs: np.ndarray | None,
        gt: dict[str, np.ndarray],
        size: tuple[int, int],
        gt_frame: dict[str, np.ndarray],
        frame: tuple[int, int],
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The box metrics of one image whose GT boxes are given both at the scoring ``size``
        (``gt``) and in the annotation ``frame`` (``gt_frame``, for the pointing game); returns
        the fixed protocol's ``(boxes, heatmaps)``."""
        pred, heatmaps = self.localize(maps, probs, size)
        self.metrics["fixed_iobb"].update(pred, gt)
        self.metrics["fixed_iou"].update(pred, gt)
        raw = {c: maps[self._index[c]] for c in gt}
        for key in ("max_box_acc_v1", "max_box_acc_v2"):
            if key in self.metrics:
                self.metrics[key].update(raw, gt, size=size)
        self.metrics["pointing_game"].update(raw, gt_frame, size=frame)
        return pred, heatmaps

    def update(self, image: ImageAnnotation, item: ImageMaps) -> None:
        """Score one image's maps against its annotation."""
        maps = item.maps
        if self.box_classes:
            frame = (image.height, image.width)
            size = self.settings.score_size or frame
            gt_frame = {c: image.boxes[c] for c in self.box_classes if len(image.boxes.get(c, ()))}
            gt = {c: _scale(b, image, size) for c, b in gt_frame.items()}
            self.update_boxes(maps, item.probs, gt, size, gt_frame, frame)
        if self.mask_classes:
            every_pair = not self.settings.true_positives_only  # GT-negative pairs too
            masks = {c: image.mask(c) for c in self.mask_classes if every_pair or c in image.masks}
            self.metrics["masks"].update({c: maps[self._index[c]] for c in masks}, masks)
        self.image_ids.append(image.name)
        self.patients.append(image.patient)

    def merge(self, other: MapScorer) -> None:
        """Add another scorer's images (e.g. another process's shard) after this one's."""
        if (other.box_classes, other.mask_classes, other.settings) != (
            self.box_classes,
            self.mask_classes,
            self.settings,
        ):
            raise ScoreError("Cannot merge scorers of different classes or settings.")
        for key, metric in self.metrics.items():
            metric.merge(other.metrics[key])
        self.image_ids += other.image_ids
        self.patients += other.patients

    def resampled(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric under per-image ``weights`` ``(R, N)``: ``(R, K + 1)`` per metric name
        (``accuracy``/``afp``/``*_iou``: ``(R, K + 1, T)``)."""
        out: dict[str, np.ndarray] = {}
        if self.box_classes:
            iobb = self.metrics["fixed_iobb"].resampled(weights)
            iou = self.metrics["fixed_iou"].resampled(weights)
            out |= {"accuracy": iobb["accuracy"], "afp": iobb["afp"]}
            out |= {"accuracy_iou": iou["accuracy"], "afp_iou": iou["afp"]}
            for key in ("max_box_acc_v1", "max_box_acc_v2"):
                if key in self.metrics:
                    out[key] = self.metrics[key].resampled(weights)["max_box_acc"]
            out["pointing_game"] = self.metrics["pointing_game"].resampled(weights)["accuracy"]
        if self.mask_classes:
            out |= self.metrics["masks"].resampled(weights)
        return out

    def observed(self) -> dict[str, np.ndarray]:
        """Every metric on the images as scored (no records needed): as :meth:`resampled`
        with one row of weights 1."""
        out: dict[str, np.ndarray] = {}
        s = self.settings
        if self.box_classes:
            for mode, prefix in (("fixed_iobb", ""), ("fixed_iou", "_iou")):
                result = self.metrics[mode].compute()
                names = [*self.box_classes, "mean"]
                for key in ("accuracy", "afp"):
                    out[f"{key}{prefix}"] = np.array(
                        [[[result[c][t][key] for t in s.overlaps] for c in names]]
                    )
            for key in ("max_box_acc_v1", "max_box_acc_v2"):
                if key not in self.metrics:
                    continue
                result = self.metrics[key].compute()
                out[key] = np.array(
                    [[result[c]["max_box_acc"] for c in [*self.box_classes, "mean"]]]
                )
            result = self.metrics["pointing_game"].compute()
            out["pointing_game"] = np.array(
                [[result[c]["accuracy"] for c in [*self.box_classes, "mean"]]]
            )
        if self.mask_classes:
            result = self.metrics["masks"].compute()
            for key in MASK_METRICS:
                out[key] = np.array([[result[c][key] for c in [*self.mask_classes, "mean"]]])
        return out


@dataclass
class MapScore:
    """The score of one map set: the scorer (with its records) and what was matched."""

    name: str
    source: str
    scorer: MapScorer
    ignored_images: int
    missing_classes: tuple[str, ...]
    has_probs: bool
    #: images found only in the maps, scored against empty masks (all mask pairs)
    prediction_only_images: int = 0

    def intervals(self, settings: ScoreSettings) -> dict[str, Intervals]:
        """Every metric's estimate and patient-bootstrap interval (one set of resamples)."""
        flat = bootstrap(
            _flat(self.scorer),
            self.scorer.patients,
            settings.resamples,
            settings.confidence,
            settings.seed,
        )
        return _split(flat, self.scorer.observed())


def _flat(scorer: MapScorer, order: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """All metrics under weights ``(R, N)`` as one ``(R, F)`` array (sorted metric names);
    ``order`` maps another scorer's image order onto this one's."""

    def statistic(weights: np.ndarray) -> np.ndarray:
        if order is not None:
            weights = weights[:, order]
        values = scorer.resampled(weights)
        return np.concatenate(
            [values[key].reshape(len(weights), -1) for key in sorted(values)], axis=1
        )

    return statistic


def _split(flat: Intervals, shapes: dict[str, np.ndarray]) -> dict[str, Intervals]:
    """The per-metric :class:`Intervals` of a flat one (shapes from ``observed``)."""
    result, start = {}, 0
    for key in sorted(shapes):
        shape = shapes[key].shape[1:]
        part = slice(start, start + int(np.prod(shape)))
        arrays = (
            np.asarray(getattr(flat, f))[part].reshape(shape)
            for f in ("estimate", "low", "high", "undefined")
        )
        result[key] = Intervals(*arrays, flat.confidence, flat.resamples)
        start = part.stop
    return result


def scored_classes(
    annotations: Annotations, map_classes: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """``(box classes, mask classes, localized classes the maps lack)``, in the data set's order."""
    boxes = tuple(c for c in annotations.box_classes if c in map_classes)
    masks = tuple(c for c in annotations.mask_classes if c in map_classes)
    missing = tuple(c for c in annotations.localized_classes if c not in map_classes)
    if not boxes and not masks:
        raise ScoreError(
            f"The maps' classes {list(map_classes)} share none with the classes "
            f"{list(annotations.localized_classes)} localized in {annotations.source}."
        )
    return boxes, masks, missing


def score_maps(
    maps: MapSet,
    annotations: Annotations,
    settings: ScoreSettings | None = None,
    name: str = "maps",
    progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
) -> MapScore:
    """Score one map set against ``annotations``, one image at a time.

    Examples:
        >>> from cam_boxes_iobb.annotations import ImageAnnotation
        >>> ann = Annotations(("Mass",), source="example")
        >>> ann.add(ImageAnnotation("a.png", "p1", 64, 64))
        >>> ann["a.png"].add_box("Mass", [8, 8, 16, 16])
        >>> class Maps(MapSet):
        ...     classes, image_ids, has_probs = ("Mass",), ["a.png"], False
        ...     def __iter__(self):
        ...         m = np.zeros((1, 8, 8), np.float32); m[0, 1:3, 1:3] = 1
        ...         yield ImageMaps("a.png", m, None)
        >>> score = score_maps(Maps(), ann, ScoreSettings(resamples=0))
        >>> score.scorer.observed()["accuracy"][0, 0, 0]   # IoBB > 0.1
        np.float64(1.0)
    """
    settings = settings or ScoreSettings()
    boxes, masks, missing = scored_classes(annotations, maps.classes)
    scorer = MapScorer(boxes, masks, tuple(maps.classes), settings)
    with_maps = set(maps.image_ids)
    absent = [image.name for image in annotations if image.name not in with_maps]
    if absent:
        raise ScoreError(
            f"{maps.path if hasattr(maps, 'path') else name}: no maps for {len(absent)} of the "
            f"{len(annotations)} annotated images (first: {absent[:3]})."
        )
    ignored = prediction_only = 0
    every_pair = not settings.true_positives_only
    items = maps if progress is None else progress(maps)
    for item in items:
        if item.image_id in annotations:
            image = annotations[item.image_id]
        elif every_pair and masks:
            if boxes:
                raise ScoreError(
                    f"{name}: maps of {item.image_id!r}, an image the annotations do not hold: "
                    "all mask pairs score such images against empty masks, which annotations "
                    "with boxes too cannot do (their box metrics would count it); drop it."
                )
            # CheXlocalize's get_ious: a CXR found only in the predictions, against an
            # all-zero mask; its size is the maps' (the file holds no other)
            image = ImageAnnotation(item.image_id, item.image_id, *item.maps.shape[-2:])
            prediction_only += 1
        else:
            ignored += 1
            continue
        try:
            scorer.update(image, item)
        except ValueError as error:
            if isinstance(error, MapsError | ScoreError):
                raise
            raise ScoreError(f"{name}, image {item.image_id!r}: {error}") from None
    return MapScore(
        name,
        str(getattr(maps, "path", name)),
        scorer,
        ignored,
        missing,
        maps.has_probs,
        prediction_only,
    )


def paired_differences(
    first: MapScore, second: MapScore, settings: ScoreSettings
) -> dict[str, Intervals]:
    """``second − first`` of every metric on the same patient resamples (images matched by
    name; both must have scored the same images and classes)."""
    a, b = first.scorer, second.scorer
    if sorted(a.image_ids) != sorted(b.image_ids):
        raise ScoreError(f"{first.name} and {second.name} were scored on different images.")
    if (a.box_classes, a.mask_classes) != (b.box_classes, b.mask_classes):
        raise ScoreError(f"{first.name} and {second.name} score different classes.")
    position = {image: i for i, image in enumerate(a.image_ids)}
    order = np.array([position[image] for image in b.image_ids], dtype=np.int64)
    stat_a, stat_b = _flat(a), _flat(b, order)
    flat = bootstrap(
        lambda w: stat_b(w) - stat_a(w),
        a.patients,
        settings.resamples,
        settings.confidence,
        settings.seed,
    )
    return _split(flat, a.observed())


def headline_value(values: np.ndarray, key: str, settings: ScoreSettings) -> np.ndarray:
    """``(..., K + 1)`` of a metric: the headline overlap's column for the fixed protocol."""
    if key in ("accuracy", "afp", "accuracy_iou", "afp_iou"):
        return values[..., settings.overlaps.index(settings.headline_overlap)]
    return values


__all__ = [
    "METRICS",
    "MapScore",
    "MapScorer",
    "ScoreError",
    "ScoreSettings",
    "paired_differences",
    "score_maps",
]
