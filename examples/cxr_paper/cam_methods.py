"""Class maps from other CAM methods, over the same model, for the localization comparison.

``cam`` is the model's own CAM (all 14 classes in one forward). The others come from the
maintained ``grad-cam`` package (pytorch-grad-cam) at the layer that gives the CAMs
(``model.feature_map``, the map ``F``), through a wrapper that returns the logits. That library
explains one target class per image and call, so a batch costs one forward and backward pass per
class: only the 8 box classes are computed (the others are never scored), 8 passes per batch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from cxr14_data import BOX_CLASSES, CLASSES
from multires_backbone import CAMClassifier

#: --cam-methods: the model's CAM and the grad-cam package's methods (imported on use).
CAM_METHODS = ("cam", "gradcam", "gradcam++", "hirescam", "layercam", "xgradcam")
_LIBRARY_NAMES = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "layercam": "LayerCAM",
    "xgradcam": "XGradCAM",
}


class LogitsOnly(nn.Module):
    """``model(x).logits``: what pytorch-grad-cam expects of a classifier."""

    def __init__(self, model: CAMClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).logits


def gradient_cam(method: str, model: CAMClassifier) -> Callable[[torch.Tensor], np.ndarray]:
    """``fn(images) -> (B, 14, H, W)`` maps in ``[0, 1]`` at the input size from ``method``
    (zero for the 6 classes without boxes)."""
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    explainer = getattr(pytorch_grad_cam, _LIBRARY_NAMES[method])(
        model=LogitsOnly(model), target_layers=[model.feature_map]
    )

    def maps(images: torch.Tensor) -> np.ndarray:
        out = np.zeros((len(images), len(CLASSES), *images.shape[-2:]), dtype=np.float32)
        flags = [p.requires_grad for p in model.parameters()]
        model.requires_grad_(True)  # a frozen model's activations need a graph for gradients
        try:
            with torch.enable_grad():
                for name in BOX_CLASSES:
                    index = CLASSES.index(name)
                    targets = [ClassifierOutputTarget(index)] * len(images)
                    out[:, index] = explainer(input_tensor=images, targets=targets)
        finally:
            for parameter, flag in zip(model.parameters(), flags, strict=True):
                parameter.requires_grad_(flag)
        return out

    return maps


def at_map_size(maps: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """``(B, K, H, W)`` input-size maps averaged down to the CAM's ``(h, w)`` for the PCM."""
    return nn.functional.adaptive_avg_pool2d(torch.from_numpy(maps), size)
