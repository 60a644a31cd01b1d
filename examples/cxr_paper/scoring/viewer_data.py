"""What the HTML report's image browser shows, collected while the test split is scored.

For every test image with GT boxes: the image (gray, at most :data:`THUMBNAIL` px), its GT boxes,
and for every kind of map (CAM, CAM + PCM, Grad-CAM, ...) and every box class the image has a GT
box of or the model predicts: the probability, the class map at its own resolution (ReLU, divided
by its maximum, as uint8: the heatmap before it is resized to the image), the predicted boxes, and
which GT boxes they hit at IoBB > 0.1. Plain nested dicts of arrays, lists and numbers, so they are
gathered across ranks and saved in ``result.npz`` like the rest of a result.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from cam_boxes_iobb import matches
from cxr_paper.configuration.task import Task

#: Longest side of the stored image.
THUMBNAIL = 256


def gray_thumbnail(image: torch.Tensor) -> np.ndarray:
    """A normalised ``(3, H, W)`` input as uint8 gray (its own min-max), at most THUMBNAIL px.

    Args:
        image: Float tensor ``(3, H, W)``.

    Returns:
        Uint8 array ``(h, w)``, ``max(h, w) <= THUMBNAIL``.
    """
    gray = image.float().mean(0, keepdim=True)[None]
    scale = THUMBNAIL / max(gray.shape[-2:])
    if scale < 1:
        gray = torch.nn.functional.interpolate(
            gray, scale_factor=scale, mode="area", recompute_scale_factor=False
        )
    gray = gray[0, 0].cpu().numpy()
    low, high = float(gray.min()), float(gray.max())
    scaled = (gray - low) / (high - low) if high > low else np.zeros_like(gray)
    return np.rint(scaled * 255).astype(np.uint8)


def class_map_uint8(class_map: np.ndarray) -> np.ndarray:
    """ReLU, divided by the maximum, as uint8 (all zeros for a map without a positive value).

    Args:
        class_map: Float array ``(h, w)``.

    Returns:
        Uint8 array ``(h, w)``.

    Examples:
        >>> class_map_uint8(np.array([[-1.0, 0.5], [1.0, 0.25]])).tolist()
        [[0, 128], [255, 64]]
    """
    positive = np.maximum(np.asarray(class_map, dtype=np.float64), 0)
    peak = positive.max() if positive.size else 0.0
    scaled = positive / peak if peak > 0 else positive
    return np.rint(scaled * 255).astype(np.uint8)


def hits(pred: np.ndarray, gt: np.ndarray) -> list[bool]:
    """For each GT box, whether some predicted box hits it (:func:`cam_boxes_iobb.matches`:
    IoBB > 0.1, the predicted box's area the denominator).

    Args:
        pred: Float array ``(P, 4)`` of ``(x, y, w, h)`` predicted boxes.
        gt: Float array ``(G, 4)`` of ``(x, y, w, h)`` GT boxes.

    Returns:
        ``G`` booleans.

    Examples:
        >>> hits(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 20, 20], [50, 50, 5, 5]]))
        [True, False]
    """
    return matches(pred, gt)[0].any(axis=0).tolist()


def box_hits(pred: np.ndarray, gt: np.ndarray) -> list[bool]:
    """For each predicted box, whether it hits some GT box; else a false positive.

    Args:
        pred: Float array ``(P, 4)`` of ``(x, y, w, h)`` predicted boxes.
        gt: Float array ``(G, 4)`` of ``(x, y, w, h)`` GT boxes.

    Returns:
        ``P`` booleans.

    Examples:
        >>> box_hits(np.array([[0, 0, 10, 10], [80, 80, 4, 4]]), np.array([[5, 0, 20, 20]]))
        [True, False]
    """
    return matches(pred, gt)[0].any(axis=1).tolist()


def new_record(image: torch.Tensor, size: tuple[int, int], gt_boxes: dict[str, Any]) -> dict:
    """One image's entry, before any map kind is added.

    Args:
        image: Float tensor ``(3, H, W)``, normalised.
        size: The input's ``(H, W)``.
        gt_boxes: Per class, its GT boxes ``(G, 4)`` as ``(x, y, w, h)``.

    Returns:
        The record: ``pixels`` (:func:`gray_thumbnail`), ``size``, ``gt`` and an empty ``kinds``.
    """
    return {
        "pixels": gray_thumbnail(image),
        "size": [int(size[0]), int(size[1])],
        "gt": {c: np.asarray(b, dtype=np.float32).reshape(-1, 4) for c, b in gt_boxes.items()},
        "kinds": {},
    }


def add_kind(
    record: dict,
    kind: str,
    class_maps: np.ndarray,
    probs: np.ndarray,
    boxes: dict[str, np.ndarray],
    task: Task,
) -> None:
    """The maps ``(K, h, w)``, probabilities ``(K,)`` (the task's class order) and predicted
    boxes of one map kind.

    Args:
        record: What :func:`new_record` gave; changed in place.
        kind: The map kind's key.
        class_maps: Float array ``(K, h, w)``.
        probs: Float array ``(K,)``.
        boxes: Per class, predicted boxes ``(P, 4)``.
        task: The classes.
    """
    shown = [c for c in task.box_classes if c in record["gt"] or c in boxes]
    entry: dict[str, Any] = {}
    for name in shown:
        pred = np.asarray(boxes.get(name, np.zeros((0, 4))), dtype=np.float32).reshape(-1, 4)
        gt = record["gt"].get(name, np.zeros((0, 4), np.float32))
        entry[name] = {
            "prob": float(probs[task.index(name)]),
            "map": class_map_uint8(class_maps[task.index(name)]),
            "boxes": pred,
            "hits": np.asarray(hits(pred, gt), dtype=bool),
            "box_hits": np.asarray(box_hits(pred, gt), dtype=bool),
        }
    record["kinds"][kind] = entry
