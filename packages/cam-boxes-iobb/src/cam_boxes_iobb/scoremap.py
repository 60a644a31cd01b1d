"""Class maps -> score maps in ``[0, 1]`` for the threshold-free metrics.

Convention:
    ``"minmax"`` is wsolevaluation's (Choe et al. 2020, ``inference.py``: ``cv2.resize`` with
    ``INTER_CUBIC`` to the image, then ``normalize_scoremap``: ``(x - min) / (max - min)``, a
    constant map or one with a NaN becomes all zeros). ``"max"`` is the paper's heatmap
    (:func:`~cam_boxes_iobb.heatmap.normalize_heatmap`: ReLU, resize, divide by the maximum; an
    all-zero map stays zero). ``"none"`` takes maps already in ``[0, 1]`` as they are (resized
    if a size is given). Sizes are ``(height, width)``.
"""

from __future__ import annotations

from typing import Any, Literal

import cv2
import numpy as np

from cam_boxes_iobb._arrays import as_numpy, check_finite

Normalization = Literal["minmax", "max", "none"]
Interpolation = Literal["cubic", "linear", "nearest"]
NORMALIZATIONS: tuple[str, ...] = ("minmax", "max", "none")
INTERPOLATIONS: dict[str, int] = {
    "cubic": cv2.INTER_CUBIC,
    "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
}


def check_choices(normalization: str, interpolation: str) -> None:
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"Expected `normalization` one of {NORMALIZATIONS}, got {normalization!r}."
        )
    if interpolation not in INTERPOLATIONS:
        raise ValueError(
            f"Expected `interpolation` one of {tuple(INTERPOLATIONS)}, got {interpolation!r}."
        )


def scoremap(
    cam: Any,
    size: tuple[int, int] | None = None,
    normalization: Normalization = "minmax",
    interpolation: Interpolation = "cubic",
    name: str = "cam",
) -> np.ndarray:
    """One ``(h, w)`` class map as a float32 score map in ``[0, 1]`` of ``size``.

    Examples:
        >>> scoremap([[1.0, 3.0], [2.0, 5.0]]).tolist()  # wsolevaluation's min-max
        [[0.0, 0.5], [0.25, 1.0]]
        >>> scoremap([[1.0, 3.0], [2.0, 5.0]], normalization="max").tolist()
        [[0.20000000298023224, 0.6000000238418579], [0.4000000059604645, 1.0]]
        >>> scoremap([[0.0, 1.0]], size=(3, 4)).shape
        (3, 4)
    """
    check_choices(normalization, interpolation)
    array = as_numpy(cam, name, dtype=np.float32)
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"Expected `{name}` of shape (h, w), got shape {array.shape}.")
    check_finite(array, name)
    if normalization == "max":
        array = np.maximum(array, 0.0)
    if size is not None:
        height, width = int(size[0]), int(size[1])
        if height < 1 or width < 1:
            raise ValueError(f"Expected a positive `size`, got {size!r}.")
        array = cv2.resize(array, (width, height), interpolation=INTERPOLATIONS[interpolation])
    if normalization == "none":
        if array.min() < -1e-6 or array.max() > 1 + 1e-6:
            raise ValueError(
                f"Expected `{name}` in [0, 1] with normalization='none', got "
                f"[{array.min()}, {array.max()}]."
            )
        return np.clip(array, 0.0, 1.0)
    if normalization == "max":
        array = np.maximum(array, 0.0)  # a cubic resize can undershoot
        peak = array.max()
        return array / peak if peak > 0 else np.zeros_like(array)
    low, high = array.min(), array.max()
    if np.isnan(array).any() or low == high:
        return np.zeros_like(array)
    return (array - low) / (high - low)
