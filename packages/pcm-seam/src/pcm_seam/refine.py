"""The one inference path of the PCM: CAMs -> PCM input -> refined class maps.

Training (:func:`~pcm_seam.seam.run_branch`) and every use at test time (evaluation, prediction,
benchmarks) build the PCM input with :func:`pcm_input`, so the PCM sees the same kind of input it
was trained on.
"""

from __future__ import annotations

import torch
from torch import nn

from pcm_seam.cam_prep import BACKGROUND_INDEX, prepare_cams


def pcm_input(cams: torch.Tensor) -> torch.Tensor:
    """``(B, K, h, w)`` raw CAMs -> ``(B, K + 1, h, w)`` PCM input (:func:`prepare_cams`
    without labels: ReLU, max-normalise, background first, non-max suppression)."""
    return prepare_cams(cams)


def foreground(maps: torch.Tensor) -> torch.Tensor:
    """Drop the background channel: ``(B, K + 1, h, w)`` -> ``(B, K, h, w)``."""
    keep = [c for c in range(maps.shape[1]) if c != BACKGROUND_INDEX]
    return maps[:, keep]


def refine(
    pcm: nn.Module,
    features: torch.Tensor,
    cams: torch.Tensor,
    images: torch.Tensor | None = None,
) -> torch.Tensor:
    """PCM-refined class maps ``(B, K, h, w)`` (no background) for raw CAMs ``(B, K, h, w)``.

    Args:
        pcm: a trained :class:`~pcm_seam.pcm.PCM`.
        features: ``(B, C, h, w)`` the map the CAMs come from.
        cams: ``(B, K, h, w)`` raw CAMs, or any other class maps (Grad-CAM, ...).
        images: ``(B, 3, H, W)``, for a PCM that reads the image too (``image_channels=3``).

    Example:
        >>> from pcm_seam import PCM
        >>> refine(PCM(16), torch.randn(2, 16, 8, 8), torch.randn(2, 14, 8, 8)).shape
        torch.Size([2, 14, 8, 8])
    """
    return foreground(pcm(features, pcm_input(cams), images=images))
