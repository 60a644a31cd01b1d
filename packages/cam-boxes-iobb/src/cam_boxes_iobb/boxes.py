"""Box validation and the overlap matrices IoBB and IoU.

Convention:
    Boxes are ``xywh`` in pixels of one image: ``(x, y)`` is the top-left corner and ``(w, h)``
    the size. Coordinates are continuous: pixel ``(i, j)`` (column, row) covers the unit square
    ``[i, i + 1) x [j, j + 1)``, so a box covers ``[x, x + w) x [y, y + h)`` and has area ``w * h``.
    A box found around pixels ``x0..x1`` has ``x = x0, w = x1 - x0 + 1`` (as ``cv2.boundingRect``
    returns, and as NIH's ``BBox_List_2017.csv`` is read). ``w`` and ``h`` must be > 0 and ``x``,
    ``y`` >= 0; boxes are arrays of shape ``(N, 4)``, ``N`` may be 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cam_boxes_iobb._arrays import as_numpy, check_finite


def check_boxes(boxes: Any, name: str = "boxes") -> np.ndarray:
    """Validate boxes and return them as a float64 ``(N, 4)`` array.

    Examples:
        >>> check_boxes([[10, 20, 30, 40]]).shape
        (1, 4)
    """
    array = as_numpy(boxes, name)
    if array.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"Expected `{name}` of shape (N, 4) xywh, got shape {array.shape}.")
    check_finite(array, name)
    if (array[:, 2:] <= 0).any():
        row = int(np.flatnonzero((array[:, 2:] <= 0).any(axis=1))[0])
        raise ValueError(
            f"Expected positive width and height in `{name}`, got row {row}: {array[row].tolist()}."
        )
    if (array[:, :2] < 0).any():
        row = int(np.flatnonzero((array[:, :2] < 0).any(axis=1))[0])
        raise ValueError(f"Expected x, y >= 0 in `{name}`, got row {row}: {array[row].tolist()}.")
    return array


def _intersection_areas(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    left = np.maximum(pred[:, None, 0], gt[None, :, 0])
    top = np.maximum(pred[:, None, 1], gt[None, :, 1])
    right = np.minimum(pred[:, None, 0] + pred[:, None, 2], gt[None, :, 0] + gt[None, :, 2])
    bottom = np.minimum(pred[:, None, 1] + pred[:, None, 3], gt[None, :, 1] + gt[None, :, 3])
    # far from the origin, x + w - x rounds: the overlap never exceeds the narrower box
    width = np.clip(right - left, 0, np.minimum(pred[:, None, 2], gt[None, :, 2]))
    height = np.clip(bottom - top, 0, np.minimum(pred[:, None, 3], gt[None, :, 3]))
    return width * height


def iobb_matrix(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """:func:`iobb` on boxes already checked by :func:`check_boxes` (no validation)."""
    pred_area = pred[:, 2] * pred[:, 3]
    return _intersection_areas(pred, gt) / pred_area[:, None]


def iou_matrix(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """:func:`iou` on boxes already checked by :func:`check_boxes` (no validation)."""
    inter = _intersection_areas(pred, gt)
    pred_area = pred[:, 2] * pred[:, 3]
    gt_area = gt[:, 2] * gt[:, 3]
    return inter / (pred_area[:, None] + gt_area[None, :] - inter)


def iobb(pred: Any, gt: Any) -> np.ndarray:
    """Intersection over the predicted box's area, ``area(pred ∩ gt) / area(pred)``.

    Args:
        pred: ``(N, 4)`` predicted boxes, ``xywh``.
        gt: ``(M, 4)`` ground-truth boxes, ``xywh``.

    Returns:
        ``(N, M)`` float64 matrix in ``[0, 1]``.

    Examples:
        >>> iobb([[0, 0, 10, 10]], [[5, 0, 10, 10], [0, 0, 100, 100]]).tolist()
        [[0.5, 1.0]]
    """
    return iobb_matrix(check_boxes(pred, "pred"), check_boxes(gt, "gt"))


def iou(pred: Any, gt: Any) -> np.ndarray:
    """Intersection over union, ``area(pred ∩ gt) / area(pred ∪ gt)``.

    Examples:
        >>> iou([[0, 0, 10, 10]], [[5, 0, 10, 10]]).round(4).tolist()
        [[0.3333]]
    """
    return iou_matrix(check_boxes(pred, "pred"), check_boxes(gt, "gt"))
