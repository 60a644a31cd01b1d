"""The one inference path of the PCM: CAMs -> PCM input -> refined class maps.

Training (:func:`~pcm_seam.seam.run_branch`) and every use at test time (evaluation, prediction,
benchmarks) build the PCM input with :func:`pcm_input`, so the PCM sees the same kind of input it
was trained on.
"""

from __future__ import annotations

import torch
from torch import nn

from pcm_seam.cam_prep import BACKGROUND_INDEX, prepare_cams

#: The authors' forward (``scripts/create_model.py``, lines 359-365) normalises with this offset.
AUTHORS_EPS = 1e-5


def pcm_input(cams: torch.Tensor, authors_input_bug: bool = False) -> torch.Tensor:
    """``(B, K, h, w)`` raw CAMs -> ``(B, K + 1, h, w)`` PCM input (:func:`prepare_cams`
    without labels: ReLU, max-normalise, background first, non-max suppression).

    ``authors_input_bug=True`` reproduces the authors' PCM input line by line: ``cams`` then hold
    ``K + 1`` channels, the classifier's extra (15th) output last; each channel becomes
    ``relu(relu(cam) - 1e-5) / (max + 1e-5)``, the class channels are non-max suppressed, and
    the background channel is the *extra output's* normalised map, because their line
    ``cam_d[:, -1] = 1 - max(...)`` writes the background into ``cam_d`` instead of
    ``cam_d_norm``. The result is returned background first, as everywhere in this package.

    Examples:
        >>> cams = torch.tensor([[[[2.0, 0.0]], [[1.0, 4.0]], [[3.0, 1.0]]]])  # K=2 + extra
        >>> pcm_input(cams, authors_input_bug=True)[0, :, 0].tolist()  # background: the extra
        [[1.0, 0.333...], [0.999..., 0.0], [0.0, 0.999...]]
    """
    if not authors_input_bug:
        return prepare_cams(cams)
    if cams.ndim != 4 or cams.shape[1] < 2:
        raise ValueError(
            "authors_input_bug=True needs CAMs (B, K + 1, h, w) with the classifier's extra "
            f"output last, got shape {tuple(cams.shape)}."
        )
    cam_d = torch.relu(cams.float())
    cam_d_max = cam_d.amax(dim=(-2, -1), keepdim=True) + AUTHORS_EPS
    cam_d_norm = torch.relu(cam_d - AUTHORS_EPS) / cam_d_max
    classes, extra = cam_d_norm[:, :-1], cam_d_norm[:, -1:]
    peak = classes.amax(dim=1, keepdim=True)
    classes = torch.where(classes < peak, torch.zeros_like(classes), classes)
    return torch.cat([extra, classes], dim=1)


def foreground(maps: torch.Tensor) -> torch.Tensor:
    """Drop the background channel: ``(B, K + 1, h, w)`` -> ``(B, K, h, w)``."""
    keep = [c for c in range(maps.shape[1]) if c != BACKGROUND_INDEX]
    return maps[:, keep]


def refine(
    pcm: nn.Module,
    features: torch.Tensor,
    cams: torch.Tensor,
    images: torch.Tensor | None = None,
    authors_input_bug: bool = False,
) -> torch.Tensor:
    """PCM-refined class maps ``(B, K, h, w)`` (no background) for raw CAMs ``(B, K, h, w)``.

    Args:
        pcm: a trained :class:`~pcm_seam.pcm.PCM`.
        features: ``(B, C, h, w)`` the map the CAMs come from.
        cams: ``(B, K, h, w)`` raw CAMs, or any other class maps (Grad-CAM, ...).
        images: ``(B, 3, H, W)``, for a PCM that reads the image too (``image_channels=3``).
        authors_input_bug: the authors' PCM input (``cams`` with the extra output last; see
            :func:`pcm_input`).

    Examples:
        >>> from pcm_seam import PCM
        >>> refine(PCM(16), torch.randn(2, 16, 8, 8), torch.randn(2, 14, 8, 8)).shape
        torch.Size([2, 14, 8, 8])
    """
    return foreground(pcm(features, pcm_input(cams, authors_input_bug), images=images))
