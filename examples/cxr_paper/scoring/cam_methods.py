"""Class maps from other CAM methods, over the same model, for the localization comparison.

``cam`` is the model's own CAM (all 14 classes in one forward). The others are the Grad-CAM family
at the layer that gives the CAMs (``model.feature_map``, the map ``F``), as the maintained
``grad-cam`` package (pytorch-grad-cam) defines and scales them, computed for the 8 box classes at
once (:mod:`cxr_paper.scoring.batched_cam`: one forward and one batched backward pass, tested equal
to the
library, which needs a forward and a backward pass per class).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from cxr_paper.configuration.task import Task
from cxr_paper.scoring.batched_cam import batched_cams, library_scaling
from multires_backbone import CAMClassifier

_LIBRARY_NAMES = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "layercam": "LayerCAM",
    "xgradcam": "XGradCAM",
}


class LogitsOnly(nn.Module):
    """``model(x).logits``: what pytorch-grad-cam expects of a classifier.

    Args:
        model: A module returning an object with a ``logits`` tensor ``(B, K)``.
    """

    def __init__(self, model: CAMClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).logits


def gradient_cam(
    method: str, model: CAMClassifier, task: Task
) -> Callable[[torch.Tensor], np.ndarray]:
    """``fn(images) -> (B, K, H, W)`` maps in ``[0, 1]`` at the input size from ``method``,
    scaled as pytorch-grad-cam scales them (zero for the task's classes without boxes).

    Args:
        method: A name of :data:`~cxr_paper.scoring.batched_cam.METHODS`, or a pytorch-grad-cam
            method name of :data:`~cxr_paper.configuration.map_methods.CAM_METHODS`.
        model: The trained classifier.
        task: Its classes; maps are made for ``task.box_indices`` only.

    Returns:
        A function from ``(B, 3, H, W)`` float images to a float32 array ``(B, K, H, W)``.
    """
    if method not in _LIBRARY_NAMES:
        raise ValueError(f"Unknown method {method!r}; expected one of {list(_LIBRARY_NAMES)}.")
    logits = LogitsOnly(model)
    box = task.box_indices

    def maps(images: torch.Tensor) -> np.ndarray:
        out = np.zeros((len(images), len(task.classes), *images.shape[-2:]), dtype=np.float32)
        cams = batched_cams(method, logits, model.feature_map, images, box)
        out[:, box] = library_scaling(cams.float().cpu().numpy(), tuple(images.shape[-2:]))
        return out

    return maps


def at_map_size(maps: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """``(B, K, H, W)`` input-size maps averaged down to the CAM's ``(h, w)`` for the PCM.

    Args:
        maps: Float array ``(B, K, H, W)``; ``H`` and ``W`` multiples of ``h`` and ``w``.
        size: The CAM's ``(h, w)``.

    Returns:
        Float32 tensor ``(B, K, h, w)``.
    """
    return nn.functional.adaptive_avg_pool2d(torch.from_numpy(maps), size)
