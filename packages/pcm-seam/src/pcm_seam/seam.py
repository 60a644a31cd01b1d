"""The SEAM objective and one training step of the PCM over a frozen CAM model.

Siamese branches (D'Souza et al. 2022, Fig. 4; Wang et al. 2020): branch 1 sees the image and its
maps are rotated afterwards; branch 2 sees the rotated image. Each branch's CAMs become the PCM
input (:func:`~pcm_seam.refine.pcm_input`, the same function as at test time), the PCM refines
them, and the loss is ``lambda_msml * MSML + lambda_ecr * ECR``.

Where the paper, SEAM and the authors' code differ, a part of the objective has a setting
(:mod:`pcm_seam.objective`: the transform, the map normalisation, the ECR targets, the ECR, the
MSML, the weights); the default is the paper's text, SEAM where the paper is silent.
:data:`~pcm_seam.objective.SEAM_OBJECTIVES` composes each source's objective (and this
package's first release, ``"masked-cam-scale"``) from those parts, :data:`SEAM_VARIANTS` lists the
settings each changes; the package README tabulates them, and the tests transcribe
``train_SEAM.py`` and the authors' ``PcmModel.train_step`` line by line and compare loss and
gradient in float64.

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
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from pcm_seam._checks import at_least_float32
from pcm_seam.cam_prep import BACKGROUND_INDEX, prepare_cams
from pcm_seam.losses import ecr_loss, min_pooling_loss, msml_loss
from pcm_seam.objective import (
    FLAT_NAMES,
    SEAM_OBJECTIVES,
    SEAMObjective,
    changed_settings,
    normalize_maps,
    objective_name,
)
from pcm_seam.refine import foreground, pcm_input

LSE_GAMMA = 10.0
#: Each source's settings by their flat names (the README's table; the objectives themselves are
#: :data:`pcm_seam.objective.SEAM_OBJECTIVES`).
SEAM_VARIANTS: dict[str, dict[str, Any]] = {
    name: changed_settings(objective) for name, objective in SEAM_OBJECTIVES.items()
}
__all__ = ["SEAM_VARIANTS", "BranchOutputs", "SEAMLoss", "normalize_maps"]


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


def _resize(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(at_least_float32(maps), size=size, mode="bilinear", align_corners=True)


def _with_background_label(labels: torch.Tensor) -> torch.Tensor:
    """``(B, K)`` image labels -> ``(B, K + 1, 1, 1)`` with the background's label 1 first."""
    ones = torch.ones_like(labels[:, :1])
    columns = [ones, labels] if BACKGROUND_INDEX == 0 else [labels, ones]
    return at_least_float32(torch.cat(columns, dim=1))[..., None, None]


class SEAMLoss(nn.Module):
    """The SEAM objective over the two siamese branches:
    ``lambda_msml * MSML + lambda_ecr * ECR + lambda_er * ER + lambda_min_pool * min-pool``,
    computed by the parts of a :class:`~pcm_seam.objective.SEAMObjective` (``objective``, the
    paper's by default), with any setting changed by its flat name below. Each flat name is one
    field of one part (:data:`~pcm_seam.objective.FLAT_NAMES`) and reads back as an attribute.

    Args:
        objective: the parts (default: the paper's); ``SEAMLoss.variant(name)`` takes a
            source's from :data:`~pcm_seam.objective.SEAM_OBJECTIVES`.
        **settings: any of the flat settings below, by name.

    Keyword Args:
        lambda_msml (float): weight of the multilabel soft margin term (paper: 1.5; SEAM: 1).
        lambda_ecr (float): weight of the ECR term (paper: 1.0).
        max_angle (float): rotations are drawn uniformly from ``[-max_angle, max_angle]`` degrees.
        keep (float): OHEM fraction per image (paper: top 20%).
        mask_padding (bool): exclude the rotation's zero-filled corners from the ECR.
        mask_input (bool): multiply the CAMs by the image labels before the PCM in training (the
            first release; makes training and test inputs differ). Default: never.
        label_loss_maps (bool): multiply the ECR maps by the image labels, background label 1
            (SEAM).
        ecr_normalize (str): normalise the refined maps (and, with ``ecr_targets="after"``, the CAM
            targets) before the ECR: ``"max"`` (the authors), ``"minmax"`` (SEAM's ``max_norm``)
            or ``"none"``.
        ecr_resolution (str): ``"image"`` (maps upsampled to each branch's input first, SEAM and
            authors) or ``"cam"``. The MSML and min-pooling terms use the same maps.
        msml_reduction (str): the two branches' MSML terms averaged (``"mean"``, SEAM) or summed
            (``"sum"``, authors).
        msml_on (str): ``"refined"`` (global average of the refined maps: the paper, the authors),
            ``"cams"`` (of the raw CAMs: SEAM, no gradient over a frozen classifier) or
            ``"refined_logits"`` (experimental; see the module docstring).
        angle_per (str): one random angle per ``"batch"`` (SEAM's transform, the authors) or per
            ``"image"``.
        transform (str): branch 2's view: ``"rotate"`` (the paper) or ``"rescale"`` (SEAM's
            ``scale_factor`` down-scaling, bilinear, ``align_corners=True``; needs
            ``ecr_resolution="image"``).
        rescale_factor (float): SEAM's 0.3.
        rotation (str): ``"kornia"`` (:func:`~pcm_seam.warps.rotate_with_mask`) or ``"torchvision"``
            (the authors' ``torchvision.transforms.functional.rotate``).
        ecr_targets (str): ``"before"``: the targets are the CAMs prepared as the PCM input is
            (:func:`~pcm_seam.cam_prep.prepare_cams`: max-normalised, background and one-hot
            before the transform; the paper's default); ``"after"``: normalised CAMs x labels,
            transformed, then background ``1 - max`` and one-hot (SEAM, the authors: padded
            corners get background 1).
        onehot (str): with ``"after"``: keep the maximum among the ``"foreground"`` channels
            (SEAM's ``max_onehot``) or among ``"all"`` channels, background included (the
            authors' ``utils.max_onehot``).
        normalize_eps (float): the ``eps`` of ``ecr_normalize`` (SEAM 1e-5, authors 1e-6).
        lambda_er (float): weight of SEAM's ER term, the L1 distance of the two branches' normalised
            CAMs (no gradient over a frozen classifier).
        lambda_min_pool (float): weight of SEAM's ``adaptive_min_pooling_loss`` on the refined
            maps x labels, averaged over the branches (it trains the PCM).
        authors_input_bug (bool): :func:`seam_step` builds the PCM input as the authors'
            forward does (the model's CAMs then carry the classifier's extra output last; see
            :func:`~pcm_seam.refine.pcm_input`); the loss itself is unchanged.

    Examples:
        >>> loss_fn = SEAMLoss()
        >>> cams, refined = torch.randn(2, 3, 8, 8), torch.rand(2, 4, 8, 8)
        >>> out = loss_fn(BranchOutputs(cams, refined), BranchOutputs(cams, refined),
        ...               torch.tensor([[1., 0., 1.], [0., 1., 0.]]), torch.zeros(2), (32, 32))
        >>> out.loss.shape, bool(out.loss > 0)
        (torch.Size([]), True)
        >>> SEAMLoss.variant("authors").msml_reduction
        'sum'
    """

    def __init__(self, objective: SEAMObjective | None = None, **settings: Any) -> None:
        super().__init__()
        if objective is not None and not isinstance(objective, SEAMObjective):
            raise TypeError(
                f"Expected a SEAMObjective (or settings by name), got {type(objective).__name__}."
            )
        self.objective = (objective or SEAM_OBJECTIVES["paper"]).replace(**settings)

    def __getattr__(self, name: str) -> Any:
        if name in FLAT_NAMES:
            return self.objective.flat(name)
        return super().__getattr__(name)

    @classmethod
    def variant(cls, name: str, **overrides: Any) -> SEAMLoss:
        """The objective of :data:`~pcm_seam.objective.SEAM_OBJECTIVES` (``"paper"``,
        ``"seam"``, ``"authors"``, ``"masked-cam-scale"``), with any setting overridden by
        name. A former name (:data:`~pcm_seam.objective.RENAMED_OBJECTIVES`) still works, with a
        ``FutureWarning``."""
        return cls(SEAM_OBJECTIVES[objective_name(name)], **overrides)

    def sample_angles(
        self,
        batch: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``(batch,)`` angles in degrees (:class:`~pcm_seam.objective.SiameseTransform`)."""
        return self.objective.transform.sample_angles(batch, device, generator)

    def warp(self, x: torch.Tensor, angles_deg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Branch 2's transform of images or branch-1 maps, and its valid-pixel mask."""
        return self.objective.transform.warp(x, angles_deg)

    def transformed_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size of a ``size`` input after :meth:`warp`."""
        return self.objective.transform.output_size(size)

    def _refined(self, branch: BranchOutputs, labels: torch.Tensor, size) -> torch.Tensor:
        """A branch's refined maps at ``size``, normalised, x labels if the ECR says so."""
        refined = self.objective.normalization(_resize(branch.refined, size))
        if self.objective.ecr.label_maps:
            refined = refined * _with_background_label(labels)
        return refined

    def _foreground(self, branch: BranchOutputs, labels: torch.Tensor, size) -> torch.Tensor:
        """Normalised CAMs x labels, no background: SEAM's and the authors' targets before
        the transform."""
        cams = self.objective.normalization(_resize(branch.cams, size))
        if self.objective.ecr.label_maps or self.objective.mask_input:
            cams = cams * labels.to(cams.dtype)[..., None, None]
        return cams

    def _targets_after(self, cams: torch.Tensor) -> torch.Tensor:
        """Background ``1 - max`` over the (transformed) class maps, then one-hot."""
        return self.objective.targets.after(cams)

    def _targets(self, original, transformed, labels, angles_deg, size_o, size_t) -> tuple:
        """The ECR's targets for branch 1 (transformed) and branch 2 (:class:`ECRTargets`)."""
        parts = self.objective
        if parts.targets.when == "before":
            target_labels = labels if parts.ecr.label_maps or parts.mask_input else None
            target_o = prepare_cams(_resize(original.cams, size_o), target_labels)
            target_a, _ = self.warp(target_o, angles_deg)
            target_t = prepare_cams(_resize(transformed.cams, size_t), target_labels)
            return target_a, target_t
        fg_a, _ = self.warp(self._foreground(original, labels, size_o), angles_deg)
        return self._targets_after(fg_a), self._targets_after(
            self._foreground(transformed, labels, size_t)
        )

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
        parts = self.objective
        if parts.ecr.resolution == "image":
            if image_size is None:
                raise ValueError("`image_size` is needed with ecr_resolution='image'.")
            size_o = tuple(image_size)
            size_t = self.transformed_size(size_o)
        else:
            size_o = size_t = tuple(original.refined.shape[-2:])
        refined_a, valid = self.warp(self._refined(original, labels, size_o), angles_deg)
        refined_t = self._refined(transformed, labels, size_t)
        with torch.no_grad():
            target_a, target_t = self._targets(
                original, transformed, labels, angles_deg, size_o, size_t
            )
        ecr = ecr_loss(
            refined_a,
            target_a.to(refined_a.dtype),
            refined_t,
            target_t.to(refined_t.dtype),
            keep=parts.ecr.keep,
            mask=valid if parts.ecr.mask_padding else None,
        )
        terms = [
            self._msml_term(branch, labels, size)
            for branch, size in ((original, size_o), (transformed, size_t))
        ]
        msml = terms[0] + terms[1]
        if parts.msml.reduction == "mean":
            msml = msml / 2
        weights = parts.weights
        zero = ecr.new_zeros(())
        er = (
            self._er(original, transformed, labels, angles_deg, size_o, size_t)
            if weights.er
            else zero
        )
        min_pool = zero
        if weights.min_pool:
            fg_labels = labels.to(ecr.dtype)[..., None, None]
            min_pool = (
                sum(
                    min_pooling_loss(foreground(_resize(branch.refined, size)) * fg_labels)
                    for branch, size in ((original, size_o), (transformed, size_t))
                )
                / 2
            )
        loss = (
            weights.msml * msml + weights.ecr * ecr + weights.er * er + weights.min_pool * min_pool
        )
        return SEAMLossOutput(loss, msml, ecr, er, min_pool)

    def _er(self, original, transformed, labels, angles_deg, size_o, size_t) -> torch.Tensor:
        """SEAM's ER: mean |A(normalised CAMs^o) - normalised CAMs^t| x labels (no gradient to
        the PCM)."""
        fg_a, _ = self.warp(self._foreground(original, labels, size_o), angles_deg)
        return (fg_a - self._foreground(transformed, labels, size_t)).abs().mean()

    def _msml_term(self, branch: BranchOutputs, labels: torch.Tensor, size) -> torch.Tensor:
        """One branch's MSML on the maps :class:`~pcm_seam.objective.MSMLTerm` names."""
        on = self.objective.msml.on
        if on == "refined":
            return msml_loss(foreground(_resize(branch.refined, size)), labels)
        if on == "cams":
            return msml_loss(_resize(branch.cams, size), labels)
        if branch.refined_logits is None:
            raise ValueError("msml_on='refined_logits' needs BranchOutputs.refined_logits.")
        flat = branch.refined_logits.float().flatten(2)
        pooled = (torch.logsumexp(LSE_GAMMA * flat, dim=-1) - math.log(flat.shape[-1])) / LSE_GAMMA
        return F.multilabel_soft_margin_loss(pooled, labels.float())

    def extra_repr(self) -> str:
        """The headline settings, then every other setting that differs from the paper's."""
        headline = ("lambda_msml", "lambda_ecr", "max_angle", "keep", "mask_padding")
        changed = changed_settings(self.objective)
        shown = [f"{name}={self.objective.flat(name)!r}" for name in headline]
        shown += [f"{name}={value!r}" for name, value in changed.items() if name not in headline]
        return ", ".join(shown)


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
    """A step's loss and every term of it (the fields of :class:`SEAMLossOutput`, in order),
    then the rotation angles drawn."""

    loss: torch.Tensor
    msml: torch.Tensor
    ecr: torch.Tensor
    er: torch.Tensor
    min_pool: torch.Tensor
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

    Examples:
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
    return SEAMStepOutput(*out, angles)
