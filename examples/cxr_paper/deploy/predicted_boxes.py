"""Class maps -> heatmaps -> boxes for one image, for ``predict.py`` (the paper's protocol:
ReLU, resize, max-normalise, keep classes predicted above a probability, threshold Q, contours)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cam_boxes_iobb import heatmap_to_boxes, normalize_heatmap


def localize(
    maps: np.ndarray,
    probs: np.ndarray,
    size: tuple[int, int],
    prob_threshold: float | Sequence[float],
    q: float,
    classes: Sequence[str],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(boxes, heatmaps)`` of one image for each of ``classes`` predicted above
    ``prob_threshold`` (one for all, or one per class): ``xywh`` boxes in pixels of ``size`` and
    the ``[0, 1]`` heatmaps they came from. ``maps`` ``(K, h, w)`` and ``probs`` ``(K,)`` are
    indexed in ``classes`` order.

    Args:
        maps: Float array ``(K, h, w)``.
        probs: Float array ``(K,)``.
        size: ``(H, W)`` of the image the boxes are for.
        prob_threshold: One threshold, or ``K`` of them.
        q: ``Q``, the share of a heatmap's maximum that forms boxes.
        classes: The ``K`` class names.

    Returns:
        ``(boxes, heatmaps)``: per predicted class, float arrays ``(P, 4)`` and ``(H, W)``.

    Examples:
        >>> maps = np.zeros((2, 4, 4)); maps[0, 1:3, 1:3] = 1.0
        >>> probs = np.full(2, 0.9)
        >>> boxes, heatmaps = localize(maps, probs, (8, 8), 0.5, 0.7, classes=["Mass", "Nodule"])
        >>> boxes["Mass"].tolist(), len(boxes["Nodule"]), heatmaps["Mass"].shape
        ([[2.0, 2.0, 4.0, 4.0]], 0, (8, 8))
    """
    thresholds = np.broadcast_to(np.asarray(prob_threshold, dtype=np.float64), (len(classes),))
    boxes, heatmaps = {}, {}
    for index, name in enumerate(classes):
        if probs[index] > thresholds[index]:
            heatmaps[name] = normalize_heatmap(maps[index], size=size)
            boxes[name] = heatmap_to_boxes(heatmaps[name], q)
    return boxes, heatmaps
