"""CheXlocalize's protocol (Saporta et al. 2022; rajpurkarlab/cheXlocalize at 2a79492): each
pathology's saliency threshold tuned on the validation segmentations — the one of
``np.arange(0.2, .8, .1)`` (0.2 ... 0.7999…, seven values; ``tune_heatmap_threshold.py``) with
the highest mIoU, the first of equal ones, saved rounded to one decimal as that script saves it
— then the test set's mIoU at those (rounded) thresholds, its mIoU with Otsu's
threshold (``heatmap_to_segmentation.py``'s default) and its hit rate, with 95 % intervals over
test patients. Maps are binarised and scored as ``cam_boxes_iobb.MaskMetrics`` does
(``true_pos_only``: pairs with a predicted and a GT segmentation); means are over pathologies.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cam_boxes_iobb import MaskMetrics, bootstrap
from cam_boxes_iobb.formats import read_annotations
from cxr_paper.scoring.interval_types import MEAN, Interval
from cxr_paper.scoring.map_kinds import MapKind
from cxr_paper.scoring.outcome import TestResult

#: ``tune_heatmap_threshold.py``'s candidates, ``np.arange(0.2, .8, .1)``: applied as they are
#: (the last is 0.7999…), saved rounded to one decimal.
TUNING_THRESHOLDS = tuple(float(t) for t in np.arange(0.2, 0.8, 0.1))
SEGMENTATIONS = "CheXlocalize/gt_segmentations_{split}.json"


@dataclass(frozen=True)
class CheXlocalizeScores:
    """One map kind under CheXlocalize's protocol.

    Attributes:
        thresholds: Per pathology, the threshold tuned on validation.
        miou: Per pathology and ``"mean"``: test mIoU at the tuned thresholds.
        miou_otsu: The same with Otsu's threshold.
        hit_rate: Per pathology and ``"mean"``: the test hit rate.
        val_images: Validation CXRs with a segmentation that tuned the thresholds.
        test_images: Test CXRs with a segmentation that were scored.
    """

    thresholds: dict[str, float]
    miou: dict[str, Interval]
    miou_otsu: dict[str, Interval]
    hit_rate: dict[str, Interval]
    val_images: int
    test_images: int


def _metric(
    maps: dict[str, Any],
    masks: dict[str, dict[str, np.ndarray]],
    classes: Sequence[str],
    all_classes: Sequence[str],
    threshold: Any,
) -> MaskMetrics:
    """The masks' metrics of ``classes`` binarised at ``threshold``, per-image records kept."""
    metric = MaskMetrics(list(classes), threshold=threshold, keep_records=True)
    for name, class_maps in zip(maps["ids"], maps["maps"], strict=True):
        given = [c for c in classes if masks[name][c] is not None]
        saliency = {c: class_maps[all_classes.index(c)] for c in given}
        metric.update(saliency, {c: masks[name][c] for c in given})
    return metric


def tuned_thresholds(
    maps: dict[str, Any], masks: dict[str, dict[str, np.ndarray]], classes: Sequence[str]
) -> dict[str, float]:
    """Per pathology, the candidate threshold with the highest validation mIoU.

    Args:
        maps: The validation maps (``ids``, ``maps`` ``(K, h, w)`` in ``classes``' order).
        masks: Per CXR id, per pathology, its GT mask ``(H, W)``.
        classes: The pathologies, in the maps' order.

    Returns:
        The thresholds, rounded to one decimal (the first candidate where no threshold gives
        an mIoU).
    """
    mious = {t: _metric(maps, masks, classes, classes, t).compute() for t in TUNING_THRESHOLDS}
    chosen = {}
    for name in classes:
        values = [mious[t][name]["miou"] for t in TUNING_THRESHOLDS]
        defined = [v if v == v else -np.inf for v in values]  # NaN: no pair at this threshold
        chosen[name] = round(TUNING_THRESHOLDS[int(np.argmax(defined))], 1)
    return chosen


def _masks(root: Path, split: str, ids: Sequence[str], classes: Sequence[str]) -> dict:
    annotations = read_annotations(root / SEGMENTATIONS.format(split=split), "chexlocalize")
    wanted = set(ids)
    return {
        image.name: {c: image.mask(c) if c in image.masks else None for c in classes}
        for image in annotations.images
        if image.name in wanted
    }


def _intervals(values: Any, classes: Sequence[str]) -> dict[str, Interval]:
    return {name: Interval.of(values, k) for k, name in enumerate([*classes, MEAN])}


def _kind_scores(
    val_maps: dict[str, Any],
    test_maps: dict[str, Any],
    root: Path,
    classes: list[str],
    resamples: int,
    seed: int,
) -> CheXlocalizeScores:
    """One map kind: thresholds tuned on validation, the test numbers with their intervals."""
    thresholds = tuned_thresholds(val_maps, _masks(root, "val", val_maps["ids"], classes), classes)
    test_masks = _masks(root, "test", test_maps["ids"], classes)
    by_threshold = {
        t: _metric(test_maps, test_masks, [c for c in classes if thresholds[c] == t], classes, t)
        for t in sorted(set(thresholds.values()))
    }
    otsu = _metric(test_maps, test_masks, classes, classes, "otsu")
    patients = [name.split("_")[0] for name in test_maps["ids"]]

    def tuned(weights: np.ndarray) -> np.ndarray:
        columns = []
        for name in classes:
            metric = by_threshold[thresholds[name]]
            columns.append(metric.resampled(weights)["miou"][:, metric.classes.index(name)])
        per_class = np.stack(columns, axis=1)
        with warnings.catch_warnings():  # a resample without any pair: NaN, as documented
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(per_class, axis=1)
        return np.concatenate([per_class, mean[:, None]], axis=1)

    def of_otsu(key: str) -> dict[str, Interval]:
        values = bootstrap(lambda w: otsu.resampled(w)[key], patients, resamples, seed=seed)
        return _intervals(values, classes)

    return CheXlocalizeScores(
        thresholds=thresholds,
        miou=_intervals(bootstrap(tuned, patients, resamples, seed=seed), classes),
        miou_otsu=of_otsu("miou"),
        hit_rate=of_otsu("hit_rate"),
        val_images=len(val_maps["ids"]),
        test_images=len(test_maps["ids"]),
    )


def chexlocalize_scores(
    val: TestResult, test: TestResult, root: Path, resamples: int, seed: int
) -> dict[MapKind, CheXlocalizeScores]:
    """Every map kind of a model scored under CheXlocalize's protocol.

    Args:
        val: The model on CheXlocalize's validation images (their maps kept).
        test: The model on its test images.
        root: The CheXlocalize download (its ``CheXlocalize/gt_segmentations_*.json``).
        resamples: Bootstrap resamples of the test patients.
        seed: Their seed.

    Returns:
        Per map kind, its scores.
    """
    classes = list(test.task.classes)
    return {
        MapKind.parse(kind): _kind_scores(val.maps[kind], test_maps, root, classes, resamples, seed)
        for kind, test_maps in test.maps.items()
    }
