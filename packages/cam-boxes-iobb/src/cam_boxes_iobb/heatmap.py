"""CAM -> heatmap -> boxes (the ChestX-ray8 protocol used by D'Souza et al. 2022).

A heatmap is a CAM with negatives removed, resized to the image and divided by its maximum;
boxes are the bounding rectangles of the external contours of ``heatmap >= threshold``.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from cam_boxes_iobb._arrays import as_numpy, check_finite


def _check_size(size: Any) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    if (
        not isinstance(size, tuple | list)
        or len(size) != 2
        or not all(isinstance(s, int | np.integer) and s > 0 for s in size)
    ):
        raise ValueError(f"Expected `size` as a positive int or (height, width), got {size!r}.")
    return int(size[0]), int(size[1])


def _check_threshold(threshold: float) -> None:
    if not (isinstance(threshold, int | float) and 0 < threshold <= 1):
        raise ValueError(f"Expected `threshold` in (0, 1], got {threshold!r}.")


def normalize_heatmap(cam: Any, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """ReLU, optional bilinear resize, then division by the maximum (an all-zero map stays zero).

    Args:
        cam: map(s) of shape ``(..., h, w)``; each trailing 2-D map is normalised on its own.
        size: ``(height, width)`` (or one int) to resize to, e.g. the original image size. The
            resize is ``cv2.INTER_LINEAR`` with half-pixel centres (``align_corners=False``).

    Returns:
        float32 array of shape ``(..., height, width)`` with values in ``[0, 1]``.

    Examples:
        >>> normalize_heatmap([[-1.0, 2.0], [1.0, 4.0]]).tolist()
        [[0.0, 0.5], [0.25, 1.0]]
        >>> normalize_heatmap([[0.0, 1.0], [0.0, 1.0]], size=(4, 8)).shape
        (4, 8)
    """
    array = as_numpy(cam, "cam", dtype=np.float32)
    if array.ndim < 2 or 0 in array.shape[-2:]:
        raise ValueError(f"Expected `cam` of shape (..., h, w), got shape {array.shape}.")
    check_finite(array, "cam")
    array = np.maximum(array, 0.0)
    if size is not None:
        height, width = _check_size(size)
        flat = array.reshape(-1, *array.shape[-2:])
        resized = np.empty((len(flat), height, width), dtype=np.float32)
        for source, target in zip(flat, resized, strict=True):
            cv2.resize(source, (width, height), dst=target, interpolation=cv2.INTER_LINEAR)
        array = resized.reshape(*array.shape[:-2], height, width)
    peak = array.max(axis=(-2, -1), keepdims=True)
    return np.divide(array, peak, out=np.zeros_like(array), where=peak > 0)


def heatmap_to_boxes(heatmap: Any, threshold: float = 0.7) -> np.ndarray:
    """Bounding boxes of the regions where ``heatmap >= threshold``.

    Args:
        heatmap: one normalised map of shape ``(H, W)`` (see :func:`normalize_heatmap`).
        threshold: in ``(0, 1]``; the paper uses ``Q = 0.7``.

    Returns:
        ``(N, 4)`` float64 ``xywh`` boxes in the heatmap's pixels (see ``boxes`` "Convention"),
        one per external contour, sorted by ``(y, x)``.

    Examples:
        >>> heatmap = np.zeros((8, 8)); heatmap[2:4, 1:6] = 1.0
        >>> heatmap_to_boxes(heatmap).tolist()
        [[1.0, 2.0, 5.0, 2.0]]
    """
    _check_threshold(threshold)
    array = as_numpy(heatmap, "heatmap", dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"Expected `heatmap` of shape (H, W), got shape {array.shape}.")
    check_finite(array, "heatmap")
    boxes = contour_boxes(array >= threshold)
    return boxes[np.lexsort((boxes[:, 0], boxes[:, 1]))]


def contour_boxes(mask: np.ndarray, largest_only: bool = False) -> np.ndarray:
    """The one contour -> box rule: ``(N, 4)`` float64 ``xywh`` bounding boxes of the external
    contours of a boolean ``(H, W)`` mask (OpenCV ``RETR_EXTERNAL``: a hole in a region is part of
    it), in OpenCV's order; only the largest contour's (by area) with ``largest_only``.

    Examples:
        >>> mask = np.zeros((6, 6), bool); mask[1:3, 1:4] = True; mask[4, 4] = True
        >>> contour_boxes(mask).tolist(), contour_boxes(mask, largest_only=True).tolist()
        ([[4.0, 4.0, 1.0, 1.0], [1.0, 1.0, 3.0, 2.0]], [[1.0, 1.0, 3.0, 2.0]])
    """
    contours, _ = cv2.findContours(
        np.asarray(mask).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    if not contours:
        return np.zeros((0, 4), dtype=np.float64)
    if largest_only:
        contours = [max(contours, key=cv2.contourArea)]
    return np.array([cv2.boundingRect(c) for c in contours], dtype=np.float64)


def heatmaps_to_boxes(heatmaps: Any, threshold: float = 0.7) -> list[list[np.ndarray]]:
    """Batched :func:`heatmap_to_boxes` over ``(B, K, H, W)``: ``boxes[b][k]`` is ``(N, 4)``.

    Examples:
        >>> maps = np.zeros((2, 3, 8, 8)); maps[1, 2, 0:2, 0:2] = 1.0
        >>> [[len(k) for k in b] for b in heatmaps_to_boxes(maps)]
        [[0, 0, 0], [0, 0, 1]]
    """
    array = as_numpy(heatmaps, "heatmaps", dtype=np.float32)
    if array.ndim != 4:
        raise ValueError(f"Expected `heatmaps` of shape (B, K, H, W), got shape {array.shape}.")
    return [[heatmap_to_boxes(m, threshold) for m in image] for image in array]
