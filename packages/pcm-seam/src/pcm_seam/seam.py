"""The SEAM objective and one training step of the PCM over a frozen CAM model.

Siamese branches (D'Souza et al. 2022, Fig. 4): branch 1 sees the image and its outputs are
rotated afterwards; branch 2 sees the rotated image. Both branches' CAMs are prepared
(:func:`prepare_cams`) and refined by the PCM; the loss is
``lambda_msml * (MSML_1 + MSML_2) / 2 + lambda_ecr * ECR``. Unlike SEAM and the authors, the
zero-filled corners of the rotation are masked out of the ECR (``mask_padding``, default on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from pcm_seam.cam_prep import BACKGROUND_INDEX, prepare_cams
from pcm_seam.losses import _check_keep, ecr_loss, msml_loss
from pcm_seam.warps import rotate


class BranchOutputs(NamedTuple):
    """One siamese branch: prepared CAMs and PCM-refined CAMs, ``(B, K + 1, h, w)`` each."""

    cams: torch.Tensor
    refined: torch.Tensor


class SEAMLossOutput(NamedTuple):
    loss: torch.Tensor
    msml: torch.Tensor
    ecr: torch.Tensor


def _foreground(maps: torch.Tensor) -> torch.Tensor:
    keep = [c for c in range(maps.shape[1]) if c != BACKGROUND_INDEX]
    return maps[:, keep]


class SEAMLoss(nn.Module):
    """``lambda_msml * MSML + lambda_ecr * ECR`` over the two siamese branches.

    Args:
        lambda_msml: weight of the multilabel soft margin term (paper: 1.5).
        lambda_ecr: weight of the ECR term (paper: 1.0).
        max_angle: rotations are drawn uniformly from ``[-max_angle, max_angle]`` degrees.
        keep: OHEM fraction per image (paper: top 20%).
        mask_padding: exclude the rotation's zero-filled corners from the ECR.

    Example:
        >>> import torch
        >>> loss_fn = SEAMLoss()
        >>> cams, refined = torch.rand(2, 4, 8, 8), torch.rand(2, 4, 8, 8)
        >>> out = loss_fn(BranchOutputs(cams, refined), BranchOutputs(cams, refined),
        ...               torch.tensor([[1., 0., 1.], [0., 1., 0.]]), torch.zeros(2))
        >>> out.loss.shape, bool(out.loss > 0)
        (torch.Size([]), True)
    """

    def __init__(
        self,
        lambda_msml: float = 1.5,
        lambda_ecr: float = 1.0,
        max_angle: float = 30.0,
        keep: float = 0.2,
        mask_padding: bool = True,
    ) -> None:
        super().__init__()
        if not 0 <= max_angle <= 180:
            raise ValueError(f"Expected `max_angle` in [0, 180] degrees, got {max_angle!r}.")
        _check_keep(keep)
        self.lambda_msml = lambda_msml
        self.lambda_ecr = lambda_ecr
        self.max_angle = max_angle
        self.keep = keep
        self.mask_padding = mask_padding

    def sample_angles(
        self,
        batch: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``(batch,)`` angles in degrees, uniform in ``[-max_angle, max_angle]``."""
        unit = torch.rand(batch, generator=generator)
        return ((2 * unit - 1) * self.max_angle).to(device)

    def forward(
        self,
        original: BranchOutputs,
        transformed: BranchOutputs,
        labels: torch.Tensor,
        angles_deg: torch.Tensor,
    ) -> SEAMLossOutput:
        """``original``: branch 1 (plain image); ``transformed``: branch 2 (rotated image)."""
        cams_a, valid = rotate(original.cams, angles_deg)
        refined_a, _ = rotate(original.refined, angles_deg)
        mask = valid if self.mask_padding else None
        ecr = ecr_loss(
            refined_a,
            cams_a.detach(),
            transformed.refined,
            transformed.cams.detach(),
            keep=self.keep,
            mask=mask,
        )
        msml = (
            msml_loss(_foreground(original.refined), labels)
            + msml_loss(_foreground(transformed.refined), labels)
        ) / 2
        return SEAMLossOutput(self.lambda_msml * msml + self.lambda_ecr * ecr, msml, ecr)

    def extra_repr(self) -> str:
        return (
            f"lambda_msml={self.lambda_msml}, lambda_ecr={self.lambda_ecr}, "
            f"max_angle={self.max_angle}, keep={self.keep}, mask_padding={self.mask_padding}"
        )


CAMModel = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def freeze_model(model: nn.Module) -> nn.Module:
    """Eval mode (batch-norm statistics fixed) and no gradients for every parameter."""
    model.eval()
    model.requires_grad_(False)
    return model


def run_branch(
    model: CAMModel, pcm: nn.Module, images: torch.Tensor, labels: torch.Tensor
) -> BranchOutputs:
    """Frozen model forward (no graph), CAM preparation with the image labels, PCM refinement."""
    with torch.no_grad():
        _, cams, features = model(images)
        prepared = prepare_cams(cams, labels)
    return BranchOutputs(prepared, pcm(features, prepared))


class SEAMStepOutput(NamedTuple):
    loss: torch.Tensor
    msml: torch.Tensor
    ecr: torch.Tensor
    angles: torch.Tensor


def seam_step(
    model: nn.Module,
    pcm: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: SEAMLoss,
    generator: torch.Generator | None = None,
) -> SEAMStepOutput:
    """One SEAM forward over a frozen CAM model; call ``.loss.backward()`` and step the PCM.

    Args:
        model: returns ``(logits, cams, features)`` for ``(B, 3, H, W)`` images; it is frozen
            here (eval mode, ``requires_grad=False``), so only ``pcm`` gets gradients.
        pcm: e.g. :class:`PCM`, called as ``pcm(features, prepared_cams)``.
        images: ``(B, C, H, W)``.
        labels: ``(B, K)`` binary image labels.
        loss_fn: the :class:`SEAMLoss` (its ``max_angle`` sets the random rotations).
        generator: for the angles, to make a step reproducible.

    Example:
        >>> import torch
        >>> from pcm_seam import PCM
        >>> class Tiny(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.features = torch.nn.Conv2d(3, 8, 3, stride=4, padding=1)
        ...         self.classifier = torch.nn.Conv2d(8, 2, 1)
        ...     def forward(self, x):
        ...         f = self.features(x)
        ...         cams = self.classifier(f)
        ...         return cams.mean((2, 3)), cams, f
        >>> model, pcm = Tiny(), PCM(8)
        >>> labels = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
        >>> out = seam_step(model, pcm, torch.rand(2, 3, 32, 32), labels, SEAMLoss())
        >>> out.loss.backward()
        >>> pcm.embedding.weight.grad is not None, model.classifier.weight.grad is None
        (True, True)
    """
    if images.ndim != 4 or labels.ndim != 2 or labels.shape[0] != images.shape[0]:
        raise ValueError(
            f"Expected `images` (B, C, H, W) and `labels` (B, K) with the same B, got "
            f"{tuple(images.shape)} and {tuple(labels.shape)}."
        )
    freeze_model(model)
    angles = loss_fn.sample_angles(images.shape[0], images.device, generator)
    rotated_images, _ = rotate(images, angles)
    original = run_branch(model, pcm, images, labels)
    transformed = run_branch(model, pcm, rotated_images.to(images.dtype), labels)
    loss, msml, ecr = loss_fn(original, transformed, labels, angles)
    return SEAMStepOutput(loss, msml, ecr, angles)
