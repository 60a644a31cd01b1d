"""The Grad-CAM family for many classes at once: one forward pass, and the gradients of every
class's logit in one batched backward pass (``torch.autograd.grad(..., is_grads_batched=True)``),
instead of one forward and one backward pass per class.

Each method's map follows pytorch-grad-cam's definition (``GradCAM``, ``GradCAMPlusPlus``,
``HiResCAM``, ``LayerCAM``, ``XGradCAM``; tested equal to the library, class by class), from the
activations ``A`` of the target layer and the gradients ``G`` of a class's logit (summed over the
batch) with respect to them:

- ``gradcam``: ``relu(Σ_c mean_hw(G_c) · A_c)``; ``hirescam``: ``relu(Σ_c G_c · A_c)``;
- ``layercam``: ``relu(Σ_c relu(G_c) · A_c)``;
- ``xgradcam``: weights ``Σ_hw G_c · A_c / (Σ_hw A_c + 1e-7)``;
- ``gradcam++``: weights ``Σ_hw relu(G) · G² / (2 G² + Σ_hw A · G³ + 1e-6)`` (0 where ``G = 0``).

:func:`library_scaling` then resizes and scales them as the library's ``__call__`` does
(grad-cam 1.5.7: ``base_cam.py`` ``compute_cam_per_layer`` and ``aggregate_multi_layers``,
``utils/image.py`` ``scale_cam_image``); ``tests/test_batched_cam.py`` compares both with the
library itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from cxr_paper.configuration.map_methods import GRADIENT_METHODS as METHODS


def activations_and_gradients(
    model: Callable[[torch.Tensor], torch.Tensor],
    layer: nn.Module,
    images: torch.Tensor,
    classes: Sequence[int],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``A`` ``(B, C, h, w)`` of ``layer``, ``G`` ``(K, B, C, h, w)`` (for each of ``classes``,
    the gradient of that class's logit summed over the batch) and the logits, from one forward
    and one batched backward pass. ``model(images)`` returns logits ``(B, num_classes)``.

    Args:
        model: A classifier, ``(B, 3, H, W)`` float images to ``(B, num_classes)`` logits.
        layer: The module of ``model`` whose output the maps are made from.
        images: ``(B, 3, H, W)`` float tensor.
        classes: The ``K`` class indices to take gradients of.

    Returns:
        ``(A, G, logits)``: float tensors ``(B, C, h, w)``, ``(K, B, C, h, w)`` and
        ``(B, num_classes)``.
    """
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, output: captured.append(output))
    try:
        with torch.enable_grad():
            inputs = images.detach().requires_grad_(True)  # a graph even for a frozen model
            logits = model(inputs)
            (activations,) = captured
            selectors = torch.zeros(len(classes), *logits.shape, dtype=logits.dtype)
            for row, index in enumerate(classes):
                selectors[row, :, index] = 1
            (gradients,) = torch.autograd.grad(
                logits,
                activations,
                grad_outputs=selectors.to(logits.device),
                is_grads_batched=True,
            )
    finally:
        handle.remove()
    return activations.detach(), gradients, logits.detach()


def cams_from(method: str, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """``(B, K, h, w)`` maps after ReLU from ``A`` ``(B, C, h, w)``, ``G`` ``(K, B, C, h, w)``.

    Args:
        method: A name of :data:`METHODS`.
        activations: ``A``, float ``(B, C, h, w)``.
        gradients: ``G``, float ``(K, B, C, h, w)``, as :func:`activations_and_gradients` gives.

    Returns:
        Float tensor ``(B, K, h, w)``, non-negative.

    Raises:
        ValueError: ``method`` is not one of :data:`METHODS`.
    """
    a, g = activations.unsqueeze(0), gradients
    if method == "gradcam":
        cam = (g.mean(dim=(-2, -1), keepdim=True) * a).sum(dim=2)
    elif method == "hirescam":
        cam = (g * a).sum(dim=2)
    elif method == "layercam":
        cam = (g.clamp(min=0) * a).sum(dim=2)
    elif method == "xgradcam":
        weights = (g * a / (a.sum(dim=(-2, -1), keepdim=True) + 1e-7)).sum(dim=(-2, -1))
        cam = (weights[..., None, None] * a).sum(dim=2)
    elif method == "gradcam++":
        g2 = g**2
        alpha = g2 / (2 * g2 + a.sum(dim=(-2, -1), keepdim=True) * g2 * g + 1e-6)
        alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
        weights = (g.clamp(min=0) * alpha).sum(dim=(-2, -1))
        cam = (weights[..., None, None] * a).sum(dim=2)
    else:
        raise ValueError(f"Unknown method {method!r}; expected one of {METHODS}.")
    return cam.clamp(min=0).transpose(0, 1)


def batched_cams(
    method: str,
    model: Callable[[torch.Tensor], torch.Tensor],
    layer: nn.Module,
    images: torch.Tensor,
    classes: Sequence[int],
) -> torch.Tensor:
    """``(B, len(classes), h, w)`` maps of ``method`` at ``layer``'s resolution, in one forward
    and one batched backward pass.

    Args:
        method: A name of :data:`METHODS` (``"gradcam"``, ``"gradcam++"``, ...).
        model: A classifier, ``(B, 3, H, W)`` float images to ``(B, num_classes)`` logits.
        layer: The module of ``model`` whose output the maps are made from.
        images: ``(B, 3, H, W)`` float tensor.
        classes: The ``K`` class indices to make maps for.

    Returns:
        Float tensor ``(B, K, h, w)``, non-negative, at ``layer``'s resolution.

    Examples:
        >>> import timm
        >>> model = timm.create_model("resnet10t", num_classes=5).eval()
        >>> maps = batched_cams("gradcam", model, model.layer4, torch.randn(2, 3, 64, 64), [0, 3])
        >>> tuple(maps.shape), bool((maps >= 0).all())
        ((2, 2, 2, 2), True)
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; expected one of {METHODS}.")
    return cams_and_logits(method, model, layer, images, classes)[0]


def cams_and_logits(
    method: str,
    model: Callable[[torch.Tensor], torch.Tensor],
    layer: nn.Module,
    images: torch.Tensor,
    classes: Sequence[int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`batched_cams` and the logits of the same forward pass.

    Args:
        method: A name of :data:`METHODS`.
        model: A classifier, ``(B, 3, H, W)`` float images to ``(B, num_classes)`` logits.
        layer: The module of ``model`` whose output the maps are made from.
        images: ``(B, 3, H, W)`` float tensor.
        classes: The ``K`` class indices to make maps for.

    Returns:
        ``(maps, logits)``: float tensors ``(B, K, h, w)`` and ``(B, num_classes)``.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; expected one of {METHODS}.")
    activations, gradients, logits = activations_and_gradients(model, layer, images, classes)
    return cams_from(method, activations, gradients), logits


def library_scaling(cams: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """pytorch-grad-cam's output from maps ``(B, K, h, w)``: per map, minus its minimum and
    divided by its maximum + 1e-7, resized to ``size`` ``(H, W)`` (``cv2.resize``, bilinear),
    then scaled the same way again (its one-layer aggregation).

    Args:
        cams: Float array ``(B, K, h, w)``.
        size: ``(H, W)`` to resize to.

    Returns:
        Float32 array ``(B, K, H, W)`` in ``[0, 1]``.
    """
    out = np.zeros((*cams.shape[:2], *size), dtype=np.float32)
    for b in range(cams.shape[0]):
        for k in range(cams.shape[1]):
            first = _minmax(cams[b, k])
            resized = cv2.resize(np.float32(first), (size[1], size[0]))
            out[b, k] = _minmax(np.maximum(resized, 0))
    return out


def _minmax(image: np.ndarray) -> np.ndarray:
    image = image - np.min(image)
    return image / (1e-7 + np.max(image))
