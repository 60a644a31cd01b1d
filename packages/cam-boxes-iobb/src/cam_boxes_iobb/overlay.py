"""Heatmap and box overlays on an X-ray, as in Fig. 7 of D'Souza et al. (2022)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from cam_boxes_iobb._arrays import as_numpy, check_finite
from cam_boxes_iobb.boxes import check_boxes
from cam_boxes_iobb.heatmap import normalize_heatmap

GT_COLOR = (0, 255, 0)
PRED_COLOR = (255, 0, 0)


def _as_rgb_uint8(image: Any) -> np.ndarray:
    array = as_numpy(image, "image", dtype=np.float64)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)) or 0 in array.shape:
        raise ValueError(
            f"Expected `image` of shape (H, W), (H, W, 1) or (H, W, 3), got {array.shape}."
        )
    check_finite(array, "image")
    if array.max() <= 1.0 and not np.issubdtype(np.asarray(image).dtype, np.integer):
        array = array * 255.0
    array = np.clip(np.rint(array), 0, 255).astype(np.uint8)
    return np.repeat(array[..., None], 3, axis=-1) if array.ndim == 2 else array


def _draw(canvas: np.ndarray, boxes: Any, color: tuple[int, int, int], name: str) -> None:
    thickness = max(1, round(min(canvas.shape[:2]) / 256))
    for x, y, w, h in check_boxes(boxes, name):
        top_left = (round(x), round(y))
        bottom_right = (round(x + w) - 1, round(y + h) - 1)
        cv2.rectangle(canvas, top_left, bottom_right, color, thickness)


def overlay(
    image: Any,
    heatmap: Any | None = None,
    gt_boxes: Any | None = None,
    pred_boxes: Any | None = None,
    alpha: float = 0.4,
) -> np.ndarray:
    """Blend a JET-coloured heatmap over an X-ray and draw GT (green) and predicted (red) boxes.

    The X-ray keeps its polarity (bright bone stays bright) and high activation is red/warm.

    Args:
        image: ``(H, W)``, ``(H, W, 1)`` or RGB ``(H, W, 3)``; uint8, or floats in ``[0, 1]``.
        heatmap: any ``(h, w)`` map; normalised and resized to the image (see
            :func:`normalize_heatmap`). ``None`` draws boxes only.
        gt_boxes, pred_boxes: ``(N, 4)`` ``xywh`` boxes in the image's pixels.
        alpha: weight of the colour map in the blend, in ``[0, 1]``.

    Returns:
        uint8 RGB array of shape ``(H, W, 3)``.

    Examples:
        >>> xray = np.full((64, 64), 100, dtype=np.uint8)
        >>> out = overlay(xray, np.eye(8), gt_boxes=[[8, 8, 16, 16]], pred_boxes=[[30, 30, 10, 10]])
        >>> out.shape, out.dtype, out[8, 10].tolist(), out[30, 35].tolist()
        ((64, 64, 3), dtype('uint8'), [0, 255, 0], [255, 0, 0])
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"Expected `alpha` in [0, 1], got {alpha!r}.")
    canvas = _as_rgb_uint8(image)
    if heatmap is not None:
        normalized = normalize_heatmap(heatmap, size=canvas.shape[:2])
        if normalized.ndim != 2:
            raise ValueError(f"Expected `heatmap` of shape (h, w), got {normalized.shape}.")
        jet_bgr = cv2.applyColorMap(np.rint(normalized * 255).astype(np.uint8), cv2.COLORMAP_JET)
        jet = cv2.cvtColor(jet_bgr, cv2.COLOR_BGR2RGB)
        canvas = cv2.addWeighted(canvas, 1.0 - alpha, jet, alpha, 0.0)
    canvas = np.ascontiguousarray(canvas)
    if gt_boxes is not None:
        _draw(canvas, gt_boxes, GT_COLOR, "gt_boxes")
    if pred_boxes is not None:
        _draw(canvas, pred_boxes, PRED_COLOR, "pred_boxes")
    return canvas
