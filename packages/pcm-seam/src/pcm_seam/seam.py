"""The SEAM objective and one training step of the PCM over a frozen CAM model.

Siamese branches (D'Souza et al. 2022, Fig. 4; Wang et al. 2020): branch 1 sees the image and its
maps are rotated afterwards; branch 2 sees the rotated image. Each branch's CAMs become the PCM
input (:func:`~pcm_seam.refine.pcm_input`, the same function as at test time), the PCM refines
them, and the loss is ``lambda_msml * MSML + lambda_ecr * ECR``.

Where the paper, SEAM and the authors' code differ, :class:`SEAMLoss` has a switch; the default is
the paper's text, SEAM where the paper is silent. :data:`SEAM_VARIANTS` names the settings of
each source (and of this package's first release, ``"landed"``):

========================  =========  =========  =========  =========
switch                    paper      seam       authors    landed
========================  =========  =========  =========  =========
``mask_input``            False      False      False      True
``label_loss_maps``       True       True       True       False
``ecr_normalize``         max        max        max        none
``ecr_resolution``        image      image      image      cam
``msml_reduction``        mean       mean       sum        mean
``angle_per``             batch      batch      batch      image
``mask_padding``          True       False      False      True
========================  =========  =========  =========  =========

``mask_padding`` (the zero-filled corners of the rotation left out of the ECR) is this package's
own choice (DESIGN §3), so ``"seam"`` and ``"authors"`` turn it off. ``msml_on="refined_logits"``
is an experiment (not in any source): the MSML on the LSE-pooled PCM refinement of the *raw* CAM
logits, whose scale gives the PCM a signal where the global average of maps in ``[0, 1]`` keeps
the paper's MSML near ``log 2``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from pcm_seam.cam_prep import BACKGROUND_INDEX, prepare_cams
from pcm_seam.losses import check_keep, ecr_loss, msml_loss
from pcm_seam.refine import foreground, pcm_input
from pcm_seam.warps import rotate_with_mask

Normalize = Literal["none", "max", "minmax"]
Resolution = Literal["cam", "image"]
Reduction = Literal["mean", "sum"]
AnglePer = Literal["image", "batch"]
MSMLOn = Literal["refined", "refined_logits"]
LSE_GAMMA = 10.0

SEAM_VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {},
    "seam": dict(mask_padding=False),
    "authors": dict(mask_padding=False, msml_reduction="sum"),
    "landed": dict(
        mask_input=True,
        label_loss_maps=False,
        ecr_normalize="none",
        ecr_resolution="cam",
        angle_per="image",
    ),
}


class BranchOutputs(NamedTuple):
    """One siamese branch.

    Attributes:
        cams: ``(B, K, h, w)`` the frozen model's raw CAMs.
        refined: ``(B, K + 1, h, w)`` the PCM's refinement of the PCM input (background first).
        refined_logits: ``(B, K, h, w)`` the PCM applied to the raw CAMs, or ``None`` (only for
            ``msml_on="refined_logits"``).
    """

    cams: torch.Tensor
    refined: torch.Tensor
    refined_logits: torch.Tensor | None = None


class SEAMLossOutput(NamedTuple):
    loss: torch.Tensor
    msml: torch.Tensor
    ecr: torch.Tensor


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"Expected `{name}` to be one of {allowed}, got {value!r}.")


def normalize_maps(maps: torch.Tensor, mode: Normalize, eps: float = 1e-5) -> torch.Tensor:
    """Per-channel normalisation of ``(B, C, h, w)`` maps: ``"max"`` (ReLU, divide by the
    spatial maximum, SEAM's ``max_norm``), ``"minmax"`` (to ``[0, 1]``) or ``"none"``.

    Example:
        >>> maps = torch.tensor([[[[1.0, 3.0]], [[-1.0, 1.0]]]])
        >>> normalize_maps(maps, "max", eps=0.0)[0, :, 0].tolist()
        [[0.3333333432674408, 1.0], [0.0, 1.0]]
        >>> normalize_maps(maps, "minmax", eps=0.0)[0, :, 0].tolist()
        [[0.0, 1.0], [0.0, 1.0]]
    """
    if mode == "none":
        return maps
    if mode == "max":
        maps = torch.relu(maps)
        return maps / (maps.amax(dim=(-2, -1), keepdim=True) + eps)
    low = maps.amin(dim=(-2, -1), keepdim=True)
    return (maps - low) / (maps.amax(dim=(-2, -1), keepdim=True) - low + eps)


def _resize(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps.float(), size=size, mode="bilinear", align_corners=True)


def _with_background_label(labels: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` image labels -> ``(B, K + 1, 1, 1)`` with the background's label 1 first."""
    ones = torch.ones_like(labels[:, :1])
    columns = [ones, labels] if BACKGROUND_INDEX == 0 else [labels, ones]
    return torch.cat(columns, dim=1).float()[..., None, None]


class SEAMLoss(nn.Module):
    """``lambda_msml * MSML + lambda_ecr * ECR`` over the two siamese branches.

    Args:
        lambda_msml: weight of the multilabel soft margin term (paper: 1.5).
        lambda_ecr: weight of the ECR term (paper: 1.0).
        max_angle: rotations are drawn uniformly from ``[-max_angle, max_angle]`` degrees.
        keep: OHEM fraction per image (paper: top 20%).
        mask_padding: exclude the rotation's zero-filled corners from the ECR.
        mask_input: multiply the CAMs by the image labels before the PCM in training (the
            first release; makes training and test inputs differ). Default: never.
        label_loss_maps: multiply the ECR maps by the image labels, background label 1 (SEAM).
        ecr_normalize: normalise the refined maps before the ECR: ``"max"`` (SEAM, authors),
            ``"minmax"`` or ``"none"``. The targets are always max-normalised CAMs.
        ecr_resolution: ``"image"`` (maps upsampled to the input first, SEAM and authors) or
            ``"cam"``.
        msml_reduction: the two branches' MSML terms averaged (``"mean"``, SEAM) or summed
            (``"sum"``, authors).
        msml_on: ``"refined"`` (global average of the refined maps, the paper) or
            ``"refined_logits"`` (experimental; see the module docstring).
        angle_per: one random angle per ``"batch"`` (SEAM's transform, the authors) or per
            ``"image"``.

    Example:
        >>> loss_fn = SEAMLoss()
        >>> cams, refined = torch.randn(2, 3, 8, 8), torch.rand(2, 4, 8, 8)
        >>> out = loss_fn(BranchOutputs(cams, refined), BranchOutputs(cams, refined),
        ...               torch.tensor([[1., 0., 1.], [0., 1., 0.]]), torch.zeros(2), (32, 32))
        >>> out.loss.shape, bool(out.loss > 0)
        (torch.Size([]), True)
        >>> SEAMLoss.variant("authors").msml_reduction
        'sum'
    """

    def __init__(
        self,
        lambda_msml: float = 1.5,
        lambda_ecr: float = 1.0,
        max_angle: float = 30.0,
        keep: float = 0.2,
        mask_padding: bool = True,
        *,
        mask_input: bool = False,
        label_loss_maps: bool = True,
        ecr_normalize: Normalize = "max",
        ecr_resolution: Resolution = "image",
        msml_reduction: Reduction = "mean",
        msml_on: MSMLOn = "refined",
        angle_per: AnglePer = "batch",
    ) -> None:
        super().__init__()
        if not 0 <= max_angle <= 180:
            raise ValueError(f"Expected `max_angle` in [0, 180] degrees, got {max_angle!r}.")
        check_keep(keep)
        _check_choice("ecr_normalize", ecr_normalize, ("none", "max", "minmax"))
        _check_choice("ecr_resolution", ecr_resolution, ("cam", "image"))
        _check_choice("msml_reduction", msml_reduction, ("mean", "sum"))
        _check_choice("msml_on", msml_on, ("refined", "refined_logits"))
        _check_choice("angle_per", angle_per, ("image", "batch"))
        self.lambda_msml = lambda_msml
        self.lambda_ecr = lambda_ecr
        self.max_angle = max_angle
        self.keep = keep
        self.mask_padding = mask_padding
        self.mask_input = mask_input
        self.label_loss_maps = label_loss_maps
        self.ecr_normalize = ecr_normalize
        self.ecr_resolution = ecr_resolution
        self.msml_reduction = msml_reduction
        self.msml_on = msml_on
        self.angle_per = angle_per

    @classmethod
    def variant(cls, name: str, **overrides: Any) -> SEAMLoss:
        """The named settings of :data:`SEAM_VARIANTS` (``"paper"``, ``"seam"``, ``"authors"``,
        ``"landed"``), with any argument overridden."""
        if name not in SEAM_VARIANTS:
            raise ValueError(
                f"Unknown SEAM variant {name!r}; expected one of {list(SEAM_VARIANTS)}."
            )
        return cls(**{**SEAM_VARIANTS[name], **overrides})

    def sample_angles(
        self,
        batch: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``(batch,)`` angles in degrees, uniform in ``[-max_angle, max_angle]``; one shared
        angle when ``angle_per="batch"``."""
        unit = torch.rand(batch if self.angle_per == "image" else 1, generator=generator)
        return ((2 * unit - 1) * self.max_angle).expand(batch).clone().to(device)

    def _ecr_maps(
        self, branch: BranchOutputs, labels: torch.Tensor, size: tuple[int, int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Refined maps and their (gradient-free) targets at the ECR's resolution."""
        refined = normalize_maps(_resize(branch.refined, size), self.ecr_normalize)
        # SEAM's targets: max-normalised CAMs x labels, background 1 - max, non-max suppressed
        target_labels = labels if self.label_loss_maps or self.mask_input else None
        with torch.no_grad():
            target = prepare_cams(_resize(branch.cams, size), target_labels)
        if self.label_loss_maps:
            refined = refined * _with_background_label(labels)
        return refined, target

    def forward(
        self,
        original: BranchOutputs,
        transformed: BranchOutputs,
        labels: torch.Tensor,
        angles_deg: torch.Tensor,
        image_size: tuple[int, int] | None = None,
    ) -> SEAMLossOutput:
        """``original``: branch 1 (plain image); ``transformed``: branch 2 (rotated image);
        ``image_size``: the input's ``(H, W)`` (needed for ``ecr_resolution="image"``)."""
        size = tuple(original.refined.shape[-2:])
        if self.ecr_resolution == "image":
            if image_size is None:
                raise ValueError("`image_size` is needed with ecr_resolution='image'.")
            size = tuple(image_size)
        refined_o, target_o = self._ecr_maps(original, labels, size)
        refined_t, target_t = self._ecr_maps(transformed, labels, size)
        refined_a, valid = rotate_with_mask(refined_o, angles_deg)
        target_a, _ = rotate_with_mask(target_o, angles_deg)
        ecr = ecr_loss(
            refined_a,
            target_a,
            refined_t,
            target_t,
            keep=self.keep,
            mask=valid if self.mask_padding else None,
        )
        terms = [self._msml_term(branch, labels) for branch in (original, transformed)]
        msml = terms[0] + terms[1]
        if self.msml_reduction == "mean":
            msml = msml / 2
        return SEAMLossOutput(self.lambda_msml * msml + self.lambda_ecr * ecr, msml, ecr)

    def _msml_term(self, branch: BranchOutputs, labels: torch.Tensor) -> torch.Tensor:
        if self.msml_on == "refined":
            return msml_loss(foreground(branch.refined), labels)
        if branch.refined_logits is None:
            raise ValueError("msml_on='refined_logits' needs BranchOutputs.refined_logits.")
        flat = branch.refined_logits.float().flatten(2)
        pooled = (torch.logsumexp(LSE_GAMMA * flat, dim=-1) - math.log(flat.shape[-1])) / LSE_GAMMA
        return F.multilabel_soft_margin_loss(pooled, labels.float())

    def extra_repr(self) -> str:
        return (
            f"lambda_msml={self.lambda_msml}, lambda_ecr={self.lambda_ecr}, "
            f"max_angle={self.max_angle}, keep={self.keep}, mask_padding={self.mask_padding}, "
            f"mask_input={self.mask_input}, label_loss_maps={self.label_loss_maps}, "
            f"ecr_normalize={self.ecr_normalize!r}, ecr_resolution={self.ecr_resolution!r}, "
            f"msml_reduction={self.msml_reduction!r}, msml_on={self.msml_on!r}, "
            f"angle_per={self.angle_per!r}"
        )


CAMModel = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


def freeze_model(model: nn.Module) -> nn.Module:
    """Eval mode (batch-norm statistics fixed) and no gradients for every parameter."""
    model.eval()
    model.requires_grad_(False)
    return model


def run_branch(
    model: CAMModel,
    pcm: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    with_logits: bool = False,
) -> BranchOutputs:
    """Frozen model forward (no graph), the PCM input, the PCM refinement.

    ``labels`` masks the PCM input (the first release's training-only behaviour); leave it
    ``None`` for the input :func:`~pcm_seam.refine.pcm_input` gives at test time. A PCM with
    ``image_channels`` also gets the ``images``.
    """
    with torch.no_grad():
        _, cams, features = model(images)
        prepared = pcm_input(cams) if labels is None else prepare_cams(cams, labels)
    inner = getattr(pcm, "module", pcm)  # DistributedDataParallel
    extra = {"images": images} if getattr(inner, "image_channels", 0) else {}
    logits = pcm(features, cams.float(), **extra) if with_logits else None
    return BranchOutputs(cams, pcm(features, prepared, **extra), logits)


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
        model: returns ``(logits, cams, features)`` for ``(B, 3, H, W)`` images; freeze it once
            with :func:`freeze_model` (eval mode, ``requires_grad=False``) so only ``pcm`` learns.
        pcm: e.g. :class:`PCM`, called as ``pcm(features, pcm_input)``.
        images: ``(B, C, H, W)``.
        labels: ``(B, K)`` binary image labels.
        loss_fn: the :class:`SEAMLoss` (its switches, ``max_angle`` and ``angle_per``).
        generator: for the angles, to make a step reproducible.

    Example:
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
        >>> model, pcm = freeze_model(Tiny()), PCM(8)
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
    if any(p.requires_grad for p in model.parameters()):
        raise ValueError("Freeze the CAM model first (pcm_seam.freeze_model): only the PCM learns.")
    angles = loss_fn.sample_angles(images.shape[0], images.device, generator)
    rotated_images, _ = rotate_with_mask(images, angles)
    mask_labels = labels if loss_fn.mask_input else None
    with_logits = loss_fn.msml_on == "refined_logits"
    original = run_branch(model, pcm, images, mask_labels, with_logits=with_logits)
    transformed = run_branch(
        model, pcm, rotated_images.to(images.dtype), mask_labels, with_logits=with_logits
    )
    out = loss_fn(original, transformed, labels, angles, tuple(images.shape[-2:]))
    return SEAMStepOutput(out.loss, out.msml, out.ecr, angles)
