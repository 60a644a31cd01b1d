"""The SEAM objective and one training step of the PCM over a frozen CAM model.

Siamese branches (D'Souza et al. 2022, Fig. 4; Wang et al. 2020): branch 1 sees the image and its
maps are rotated afterwards; branch 2 sees the rotated image. Each branch's CAMs become the PCM
input (:func:`~pcm_seam.refine.pcm_input`, the same function as at test time), the PCM refines
them, and the loss is ``lambda_msml * MSML + lambda_ecr * ECR``.

Where the paper, SEAM and the authors' code differ, :class:`SEAMLoss` has a switch; the default is
the paper's text, SEAM where the paper is silent. :data:`SEAM_VARIANTS` names the settings of
each source (and of this package's first release, ``"landed"``); the package README tabulates
them, and the tests transcribe ``train_SEAM.py`` and the authors' ``PcmModel.train_step`` line by
line and compare loss and gradient in float64.

``mask_padding`` (the zero-filled corners of the rotation left out of the ECR) is this package's
own choice, so ``"seam"`` and ``"authors"`` turn it off. ``msml_on="refined_logits"`` is an
experiment (not in any source): the MSML on the LSE-pooled PCM refinement of the *raw* CAM
logits, whose scale gives the PCM a signal where the global average of maps in ``[0, 1]`` keeps
the paper's MSML near ``log 2``. SEAM trains the classifier jointly; over a frozen classifier its
MSML on the raw CAMs and its ER term carry no gradient (they only add to the loss's value), and
only the ECR and the min-pooling term train the PCM.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from pcm_seam._checks import at_least_float32
from pcm_seam.cam_prep import BACKGROUND_INDEX, prepare_cams
from pcm_seam.losses import check_keep, ecr_loss, min_pooling_loss, msml_loss
from pcm_seam.refine import foreground, pcm_input
from pcm_seam.warps import rotate_torchvision_with_mask, rotate_with_mask

Normalize = Literal["none", "max", "minmax"]
Resolution = Literal["cam", "image"]
Reduction = Literal["mean", "sum"]
AnglePer = Literal["image", "batch"]
MSMLOn = Literal["refined", "refined_logits", "cams"]
Transform = Literal["rotate", "rescale"]
Rotation = Literal["kornia", "torchvision"]
Targets = Literal["before", "after"]
OneHot = Literal["foreground", "all"]
LSE_GAMMA = 10.0
#: SEAM's transform: ``F.interpolate(img, scale_factor=0.3)`` (``train_SEAM.py``, line 104).
SEAM_RESCALE = 0.3

SEAM_VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {},
    # train_SEAM.py lines 104-142, tool/visualization.py max_norm (lines 54-67)
    "seam": dict(
        transform="rescale",
        mask_padding=False,
        lambda_msml=1.0,
        ecr_normalize="minmax",
        ecr_targets="after",
        onehot="foreground",
        msml_on="cams",
        lambda_er=1.0,
        lambda_min_pool=1.0,
    ),
    # the authors' scripts/create_model.py PcmModel.train_step (lines 62-104), utils.max_norm
    "authors": dict(
        authors_input_bug=True,
        mask_padding=False,
        msml_reduction="sum",
        ecr_targets="after",
        onehot="all",
        normalize_eps=1e-6,
        rotation="torchvision",
    ),
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
    """The loss and its terms (each before its weight); ``er`` and ``min_pool`` are 0 unless
    weighted (SEAM's)."""

    loss: torch.Tensor
    msml: torch.Tensor
    ecr: torch.Tensor
    er: torch.Tensor
    min_pool: torch.Tensor


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"Expected `{name}` to be one of {allowed}, got {value!r}.")


def normalize_maps(maps: torch.Tensor, mode: Normalize, eps: float = 1e-5) -> torch.Tensor:
    """Per-channel normalisation of ``(B, C, h, w)`` maps: ``"max"`` (ReLU, divide by the
    spatial maximum plus ``eps``: the authors' ``utils.max_norm``), ``"minmax"`` (SEAM's
    ``tool/visualization.max_norm``: ReLU, then ``relu(p - min - eps) / (max - min + eps)``) or
    ``"none"``.

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
    maps = torch.relu(maps)
    low, high = maps.amin(dim=(-2, -1), keepdim=True), maps.amax(dim=(-2, -1), keepdim=True)
    return torch.relu(maps - low - eps) / (high - low + eps)


def _resize(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(at_least_float32(maps), size=size, mode="bilinear", align_corners=True)


def _with_background(maps: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Class maps ``(B, K, h, w)`` and a background ``(B, 1, h, w)`` in the package's order."""
    parts = [background, maps] if BACKGROUND_INDEX == 0 else [maps, background]
    return torch.cat(parts, dim=1)


def _with_background_label(labels: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` image labels -> ``(B, K + 1, 1, 1)`` with the background's label 1 first."""
    ones = torch.ones_like(labels[:, :1])
    columns = [ones, labels] if BACKGROUND_INDEX == 0 else [labels, ones]
    return at_least_float32(torch.cat(columns, dim=1))[..., None, None]


class SEAMLoss(nn.Module):
    """The SEAM objective over the two siamese branches:
    ``lambda_msml * MSML + lambda_ecr * ECR + lambda_er * ER + lambda_min_pool * min-pool``.

    Args:
        lambda_msml: weight of the multilabel soft margin term (paper: 1.5; SEAM: 1).
        lambda_ecr: weight of the ECR term (paper: 1.0).
        max_angle: rotations are drawn uniformly from ``[-max_angle, max_angle]`` degrees.
        keep: OHEM fraction per image (paper: top 20%).
        mask_padding: exclude the rotation's zero-filled corners from the ECR.
        mask_input: multiply the CAMs by the image labels before the PCM in training (the
            first release; makes training and test inputs differ). Default: never.
        label_loss_maps: multiply the ECR maps by the image labels, background label 1 (SEAM).
        ecr_normalize: normalise the refined maps (and, with ``ecr_targets="after"``, the CAM
            targets) before the ECR: ``"max"`` (the authors), ``"minmax"`` (SEAM's ``max_norm``)
            or ``"none"``.
        ecr_resolution: ``"image"`` (maps upsampled to each branch's input first, SEAM and
            authors) or ``"cam"``. The MSML and min-pooling terms use the same maps.
        msml_reduction: the two branches' MSML terms averaged (``"mean"``, SEAM) or summed
            (``"sum"``, authors).
        msml_on: ``"refined"`` (global average of the refined maps: the paper, the authors),
            ``"cams"`` (of the raw CAMs: SEAM, no gradient over a frozen classifier) or
            ``"refined_logits"`` (experimental; see the module docstring).
        angle_per: one random angle per ``"batch"`` (SEAM's transform, the authors) or per
            ``"image"``.
        transform: branch 2's view: ``"rotate"`` (the paper) or ``"rescale"`` (SEAM's
            ``scale_factor`` down-scaling, bilinear, ``align_corners=True``; needs
            ``ecr_resolution="image"``).
        rescale_factor: SEAM's 0.3.
        rotation: ``"kornia"`` (:func:`~pcm_seam.warps.rotate_with_mask`) or ``"torchvision"``
            (the authors' ``torchvision.transforms.functional.rotate``).
        ecr_targets: ``"before"``: the targets are the CAMs prepared as the PCM input is
            (:func:`~pcm_seam.cam_prep.prepare_cams`: max-normalised, background and one-hot
            before the transform; the paper's default); ``"after"``: normalised CAMs x labels,
            transformed, then background ``1 - max`` and one-hot (SEAM, the authors: padded
            corners get background 1).
        onehot: with ``"after"``: keep the maximum among the ``"foreground"`` channels
            (SEAM's ``max_onehot``) or among ``"all"`` channels, background included (the
            authors' ``utils.max_onehot``).
        normalize_eps: the ``eps`` of ``ecr_normalize`` (SEAM 1e-5, authors 1e-6).
        lambda_er: weight of SEAM's ER term, the L1 distance of the two branches' normalised
            CAMs (no gradient over a frozen classifier).
        lambda_min_pool: weight of SEAM's ``adaptive_min_pooling_loss`` on the refined maps x
            labels, averaged over the branches (it trains the PCM).
        authors_input_bug: :func:`seam_step` builds the PCM input as the authors' forward does
            (the model's CAMs then carry the classifier's extra output last; see
            :func:`~pcm_seam.refine.pcm_input`); the loss itself is unchanged.

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
        transform: Transform = "rotate",
        rescale_factor: float = SEAM_RESCALE,
        rotation: Rotation = "kornia",
        ecr_targets: Targets = "before",
        onehot: OneHot = "foreground",
        normalize_eps: float = 1e-5,
        lambda_er: float = 0.0,
        lambda_min_pool: float = 0.0,
        authors_input_bug: bool = False,
    ) -> None:
        super().__init__()
        if not 0 <= max_angle <= 180:
            raise ValueError(f"Expected `max_angle` in [0, 180] degrees, got {max_angle!r}.")
        check_keep(keep)
        _check_choice("ecr_normalize", ecr_normalize, ("none", "max", "minmax"))
        _check_choice("ecr_resolution", ecr_resolution, ("cam", "image"))
        _check_choice("msml_reduction", msml_reduction, ("mean", "sum"))
        _check_choice("msml_on", msml_on, ("refined", "refined_logits", "cams"))
        _check_choice("angle_per", angle_per, ("image", "batch"))
        _check_choice("transform", transform, ("rotate", "rescale"))
        _check_choice("rotation", rotation, ("kornia", "torchvision"))
        _check_choice("ecr_targets", ecr_targets, ("before", "after"))
        _check_choice("onehot", onehot, ("foreground", "all"))
        if not 0 < rescale_factor < 1:
            raise ValueError(f"Expected `rescale_factor` in (0, 1), got {rescale_factor!r}.")
        if transform == "rescale" and ecr_resolution != "image":
            raise ValueError(
                "transform='rescale' compares the branches at the images' sizes: it needs "
                "ecr_resolution='image'."
            )
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
        self.transform = transform
        self.rescale_factor = rescale_factor
        self.rotation = rotation
        self.ecr_targets = ecr_targets
        self.onehot = onehot
        self.normalize_eps = normalize_eps
        self.lambda_er = lambda_er
        self.lambda_min_pool = lambda_min_pool
        self.authors_input_bug = authors_input_bug

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

    def warp(self, x: torch.Tensor, angles_deg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Branch 2's transform of images or branch-1 maps ``(B, C, H, W)``: the warped maps
        and the mask of valid pixels (all valid for ``"rescale"``)."""
        if self.transform == "rescale":
            small = F.interpolate(
                x, scale_factor=self.rescale_factor, mode="bilinear", align_corners=True
            )
            return small, torch.ones_like(small[:, :1], dtype=torch.bool)
        if self.rotation == "torchvision":
            return rotate_torchvision_with_mask(x, angles_deg)
        return rotate_with_mask(x, angles_deg)

    def transformed_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size of a ``size`` input after :meth:`warp`."""
        if self.transform == "rescale":
            return tuple(math.floor(side * self.rescale_factor) for side in size)
        return tuple(size)

    def _normalize(self, maps: torch.Tensor) -> torch.Tensor:
        return normalize_maps(maps, self.ecr_normalize, self.normalize_eps)

    def _refined(self, branch: BranchOutputs, labels: torch.Tensor, size) -> torch.Tensor:
        refined = self._normalize(_resize(branch.refined, size))
        if self.label_loss_maps:
            refined = refined * _with_background_label(labels)
        return refined

    def _foreground(self, branch: BranchOutputs, labels: torch.Tensor, size) -> torch.Tensor:
        """Normalised CAMs x labels, no background: SEAM's and the authors' targets before
        the transform."""
        cams = self._normalize(_resize(branch.cams, size))
        if self.label_loss_maps or self.mask_input:
            cams = cams * labels.to(cams.dtype)[..., None, None]
        return cams

    def _targets_after(self, cams: torch.Tensor) -> torch.Tensor:
        """Background ``1 - max`` over the (transformed) class maps, then one-hot."""
        peak = cams.amax(dim=1, keepdim=True)
        if self.onehot == "foreground":
            cams = torch.where(cams < peak, torch.zeros_like(cams), cams)
        maps = _with_background(cams, 1.0 - peak)
        if self.onehot == "all":
            top = maps.amax(dim=1, keepdim=True)
            maps = torch.where(maps < top, torch.zeros_like(maps), maps)
        return maps

    def forward(
        self,
        original: BranchOutputs,
        transformed: BranchOutputs,
        labels: torch.Tensor,
        angles_deg: torch.Tensor,
        image_size: tuple[int, int] | None = None,
    ) -> SEAMLossOutput:
        """``original``: branch 1 (plain image); ``transformed``: branch 2 (warped image);
        ``image_size``: the input's ``(H, W)`` (needed for ``ecr_resolution="image"``)."""
        if self.ecr_resolution == "image":
            if image_size is None:
                raise ValueError("`image_size` is needed with ecr_resolution='image'.")
            size_o = tuple(image_size)
            size_t = self.transformed_size(size_o)
        else:
            size_o = size_t = tuple(original.refined.shape[-2:])
        refined_a, valid = self.warp(self._refined(original, labels, size_o), angles_deg)
        refined_t = self._refined(transformed, labels, size_t)
        with torch.no_grad():
            if self.ecr_targets == "before":
                target_labels = labels if self.label_loss_maps or self.mask_input else None
                target_o = prepare_cams(_resize(original.cams, size_o), target_labels)
                target_a, _ = self.warp(target_o, angles_deg)
                target_t = prepare_cams(_resize(transformed.cams, size_t), target_labels)
            else:
                fg_a, _ = self.warp(self._foreground(original, labels, size_o), angles_deg)
                target_a = self._targets_after(fg_a)
                target_t = self._targets_after(self._foreground(transformed, labels, size_t))
        ecr = ecr_loss(
            refined_a,
            target_a.to(refined_a.dtype),
            refined_t,
            target_t.to(refined_t.dtype),
            keep=self.keep,
            mask=valid if self.mask_padding else None,
        )
        terms = [
            self._msml_term(branch, labels, size)
            for branch, size in ((original, size_o), (transformed, size_t))
        ]
        msml = terms[0] + terms[1]
        if self.msml_reduction == "mean":
            msml = msml / 2
        zero = ecr.new_zeros(())
        er = (
            self._er(original, transformed, labels, angles_deg, size_o, size_t)
            if self.lambda_er
            else zero
        )
        min_pool = zero
        if self.lambda_min_pool:
            fg_labels = labels.to(ecr.dtype)[..., None, None]
            min_pool = (
                sum(
                    min_pooling_loss(foreground(_resize(branch.refined, size)) * fg_labels)
                    for branch, size in ((original, size_o), (transformed, size_t))
                )
                / 2
            )
        loss = (
            self.lambda_msml * msml
            + self.lambda_ecr * ecr
            + self.lambda_er * er
            + self.lambda_min_pool * min_pool
        )
        return SEAMLossOutput(loss, msml, ecr, er, min_pool)

    def _er(self, original, transformed, labels, angles_deg, size_o, size_t) -> torch.Tensor:
        """SEAM's ER: mean |A(normalised CAMs^o) - normalised CAMs^t| x labels (no gradient to
        the PCM)."""
        fg_a, _ = self.warp(self._foreground(original, labels, size_o), angles_deg)
        return (fg_a - self._foreground(transformed, labels, size_t)).abs().mean()

    def _msml_term(self, branch: BranchOutputs, labels: torch.Tensor, size) -> torch.Tensor:
        if self.msml_on == "refined":
            return msml_loss(foreground(_resize(branch.refined, size)), labels)
        if self.msml_on == "cams":
            return msml_loss(_resize(branch.cams, size), labels)
        if branch.refined_logits is None:
            raise ValueError("msml_on='refined_logits' needs BranchOutputs.refined_logits.")
        flat = branch.refined_logits.float().flatten(2)
        pooled = (torch.logsumexp(LSE_GAMMA * flat, dim=-1) - math.log(flat.shape[-1])) / LSE_GAMMA
        return F.multilabel_soft_margin_loss(pooled, labels.float())

    def extra_repr(self) -> str:
        defaults = SEAMLoss.__init__.__kwdefaults__ or {}
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name, default in defaults.items()
            if getattr(self, name) != default
        ]
        return (
            f"lambda_msml={self.lambda_msml}, lambda_ecr={self.lambda_ecr}, "
            f"max_angle={self.max_angle}, keep={self.keep}, mask_padding={self.mask_padding}"
            + "".join(f", {item}" for item in changed)
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
    authors_input_bug: bool = False,
) -> BranchOutputs:
    """Frozen model forward (no graph), the PCM input, the PCM refinement.

    ``labels`` masks the PCM input (the first release's training-only behaviour); leave it
    ``None`` for the input :func:`~pcm_seam.refine.pcm_input` gives at test time. A PCM with
    ``image_channels`` also gets the ``images``.
    """
    with torch.no_grad():
        _, cams, features = model(images)
        if authors_input_bug:
            prepared = pcm_input(cams, authors_input_bug=True)
            cams = cams[:, :-1]  # the class CAMs; the extra output only fed the PCM input
        elif labels is None:
            prepared = pcm_input(cams)
        else:
            prepared = prepare_cams(cams, labels)
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
    rotated_images, _ = loss_fn.warp(images, angles)
    mask_labels = labels if loss_fn.mask_input else None
    with_logits = loss_fn.msml_on == "refined_logits"
    switches = dict(with_logits=with_logits, authors_input_bug=loss_fn.authors_input_bug)
    original = run_branch(model, pcm, images, mask_labels, **switches)
    if loss_fn.authors_input_bug and original.cams.shape[1] != labels.shape[1]:
        raise ValueError(
            "authors_input_bug=True needs the classifier's extra output: the model returned "
            f"{original.cams.shape[1] + 1} CAM channels for {labels.shape[1]} labels, expected "
            f"{labels.shape[1] + 1} (the extra one last). Pass authors_input_bug=False for a "
            "model without it."
        )
    transformed = run_branch(model, pcm, rotated_images.to(images.dtype), mask_labels, **switches)
    out = loss_fn(original, transformed, labels, angles, tuple(images.shape[-2:]))
    return SEAMStepOutput(out.loss, out.msml, out.ecr, angles)
