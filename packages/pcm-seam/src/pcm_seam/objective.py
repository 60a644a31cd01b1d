"""The parts of the SEAM objective, each saying what it is, and each source's objective as a frozen
composition of them (:data:`SEAM_OBJECTIVES`).

- :class:`SiameseTransform`: branch 2's view of the image (a rotation, or SEAM's down-scaling),
  applied to branch 1's maps so the two can be compared; its valid-pixel mask.
- :class:`MapNormalization`: how maps are brought to a common scale before they are compared.
- :class:`ECRTargets`: what the refined maps are pulled toward in the ECR.
- :class:`ECRTerm`: the equivariant cross-regularisation with OHEM (where, how much, which pixels).
- :class:`MSMLTerm`: the multilabel soft margin term (on which maps, how the branches combine).
- :class:`TermWeights`: the weight of each term in the loss.

:class:`SEAMObjective` holds one of each. The flat names users pass (``SEAMLoss(keep=0.5)``,
``--seam-overrides {"ecr_resolution": "cam"}``) are each one field of one part
(:data:`FLAT_NAMES`), so an override changes exactly that field.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F

from pcm_seam.cam_prep import BACKGROUND_INDEX
from pcm_seam.losses import check_keep
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
#: SEAM's transform: ``F.interpolate(img, scale_factor=0.3)`` (``train_SEAM.py``, line 104).
SEAM_RESCALE = 0.3


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"Expected `{name}` to be one of {allowed}, got {value!r}.")


@dataclass(frozen=True)
class SiameseTransform:
    """Branch 2's view: ``"rotate"`` by an angle uniform in ``[-max_angle, max_angle]`` degrees
    (one per ``"batch"`` or per ``"image"``; ``"kornia"`` or the authors' ``"torchvision"``
    rotation), or ``"rescale"`` by SEAM's ``rescale_factor`` (bilinear, ``align_corners=True``).
    The same transform is applied to branch 1's maps, so no inverse is needed."""

    kind: Transform = "rotate"
    max_angle: float = 30.0
    angle_per: AnglePer = "batch"
    rotation: Rotation = "kornia"
    rescale_factor: float = SEAM_RESCALE

    def __post_init__(self) -> None:
        _check_choice("transform", self.kind, ("rotate", "rescale"))
        _check_choice("angle_per", self.angle_per, ("image", "batch"))
        _check_choice("rotation", self.rotation, ("kornia", "torchvision"))
        if not 0 <= self.max_angle <= 180:
            raise ValueError(f"Expected `max_angle` in [0, 180] degrees, got {self.max_angle!r}.")
        if not 0 < self.rescale_factor < 1:
            raise ValueError(f"Expected `rescale_factor` in (0, 1), got {self.rescale_factor!r}.")

    def sample_angles(
        self,
        batch: int,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``(batch,)`` angles in degrees; one shared angle when ``angle_per="batch"``."""
        unit = torch.rand(batch if self.angle_per == "image" else 1, generator=generator)
        return ((2 * unit - 1) * self.max_angle).expand(batch).clone().to(device)

    def warp(self, x: torch.Tensor, angles_deg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, H, W)`` images or maps transformed, and the mask of valid pixels (all valid
        for ``"rescale"``)."""
        if self.kind == "rescale":
            small = F.interpolate(
                x, scale_factor=self.rescale_factor, mode="bilinear", align_corners=True
            )
            return small, torch.ones_like(small[:, :1], dtype=torch.bool)
        if self.rotation == "torchvision":
            return rotate_torchvision_with_mask(x, angles_deg)
        return rotate_with_mask(x, angles_deg)

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """The size of a ``size`` input after :meth:`warp`."""
        if self.kind == "rescale":
            return tuple(math.floor(side * self.rescale_factor) for side in size)
        return tuple(size)


def normalize_maps(maps: torch.Tensor, mode: Normalize, eps: float = 1e-5) -> torch.Tensor:
    """Per-channel normalisation of ``(B, C, h, w)`` maps: ``"max"`` (ReLU, divide by the
    spatial maximum plus ``eps``: the authors' ``utils.max_norm``), ``"minmax"`` (SEAM's
    ``tool/visualization.max_norm``: ReLU, then ``relu(p - min - eps) / (max - min + eps)``) or
    ``"none"``.

    Examples:
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


@dataclass(frozen=True)
class MapNormalization:
    """:func:`normalize_maps` with its ``mode`` (``"max"``: the authors; ``"minmax"``: SEAM;
    ``"none"``) and ``eps`` (SEAM 1e-5, the authors 1e-6)."""

    mode: Normalize = "max"
    eps: float = 1e-5

    def __post_init__(self) -> None:
        _check_choice("ecr_normalize", self.mode, ("none", "max", "minmax"))

    def __call__(self, maps: torch.Tensor) -> torch.Tensor:
        return normalize_maps(maps, self.mode, self.eps)


def with_background(maps: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Class maps ``(B, K, h, w)`` and a background ``(B, 1, h, w)`` in the package's order."""
    parts = [background, maps] if BACKGROUND_INDEX == 0 else [maps, background]
    return torch.cat(parts, dim=1)


@dataclass(frozen=True)
class ECRTargets:
    """What each branch's refined maps are pulled toward: ``"before"``, the CAMs prepared as the
    PCM input is (max-normalised, background, one-hot) and then transformed (the paper);
    ``"after"``, normalised CAMs x labels transformed, then background ``1 - max`` and one-hot
    among the ``"foreground"`` channels (SEAM's ``max_onehot``) or ``"all"`` (the authors')."""

    when: Targets = "before"
    onehot: OneHot = "foreground"

    def __post_init__(self) -> None:
        _check_choice("ecr_targets", self.when, ("before", "after"))
        _check_choice("onehot", self.onehot, ("foreground", "all"))

    def after(self, cams: torch.Tensor) -> torch.Tensor:
        """``"after"``'s targets from (transformed) normalised class maps."""
        peak = cams.amax(dim=1, keepdim=True)
        if self.onehot == "foreground":
            cams = torch.where(cams < peak, torch.zeros_like(cams), cams)
        maps = with_background(cams, 1.0 - peak)
        if self.onehot == "all":
            top = maps.amax(dim=1, keepdim=True)
            maps = torch.where(maps < top, torch.zeros_like(maps), maps)
        return maps


@dataclass(frozen=True)
class ECRTerm:
    """The ECR with OHEM (:func:`~pcm_seam.losses.ecr_loss`): the top ``keep`` of each image's
    pixels, the rotation's zero-filled corners left out with ``mask_padding``, the maps compared
    at each branch's ``"image"`` size (SEAM, the authors) or at the ``"cam"`` size, multiplied by
    the image labels (background label 1) with ``label_maps`` (SEAM)."""

    keep: float = 0.2
    mask_padding: bool = True
    resolution: Resolution = "image"
    label_maps: bool = True

    def __post_init__(self) -> None:
        check_keep(self.keep)
        _check_choice("ecr_resolution", self.resolution, ("cam", "image"))


@dataclass(frozen=True)
class MSMLTerm:
    """The multilabel soft margin term on the global average of the ``"refined"`` maps (the
    paper, the authors), of the raw ``"cams"`` (SEAM; no gradient over a frozen classifier) or
    on the LSE-pooled ``"refined_logits"`` (an experiment); the branches' terms averaged
    (``"mean"``, SEAM) or summed (``"sum"``, the authors)."""

    on: MSMLOn = "refined"
    reduction: Reduction = "mean"

    def __post_init__(self) -> None:
        _check_choice("msml_on", self.on, ("refined", "refined_logits", "cams"))
        _check_choice("msml_reduction", self.reduction, ("mean", "sum"))


@dataclass(frozen=True)
class TermWeights:
    """``msml * MSML + ecr * ECR + er * ER + min_pool * min-pooling`` (SEAM's last two: 0 off)."""

    msml: float = 1.5
    ecr: float = 1.0
    er: float = 0.0
    min_pool: float = 0.0


@dataclass(frozen=True)
class SEAMObjective:
    """One SEAM objective: a part of each kind, and two switches of how the PCM input is built
    in training (``mask_input``: CAMs x labels, the first release; ``authors_input_bug``: the
    authors' input line, see :func:`~pcm_seam.refine.pcm_input`).

    Examples:
        >>> SEAM_OBJECTIVES["seam"].transform.kind, SEAM_OBJECTIVES["authors"].msml.reduction
        ('rescale', 'sum')
        >>> SEAMObjective().replace(keep=0.5).ecr.keep
        0.5
    """

    transform: SiameseTransform = field(default_factory=SiameseTransform)
    normalization: MapNormalization = field(default_factory=MapNormalization)
    targets: ECRTargets = field(default_factory=ECRTargets)
    ecr: ECRTerm = field(default_factory=ECRTerm)
    msml: MSMLTerm = field(default_factory=MSMLTerm)
    weights: TermWeights = field(default_factory=TermWeights)
    mask_input: bool = False
    authors_input_bug: bool = False

    def __post_init__(self) -> None:
        if self.transform.kind == "rescale" and self.ecr.resolution != "image":
            raise ValueError(
                "transform='rescale' compares the branches at the images' sizes: it needs "
                "ecr_resolution='image'."
            )

    def replace(self, **flat: Any) -> SEAMObjective:
        """This objective with fields changed by their flat names (:data:`FLAT_NAMES`)."""
        unknown = sorted(set(flat) - set(FLAT_NAMES))
        if unknown:
            raise TypeError(
                f"Unknown SEAM settings {unknown}; expected some of {list(FLAT_NAMES)}."
            )
        changes: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for name, value in flat.items():
            part, attribute = FLAT_NAMES[name]
            if part is None:
                top[attribute] = value
            else:
                changes.setdefault(part, {})[attribute] = value
        parts = {p: dataclasses.replace(getattr(self, p), **c) for p, c in changes.items()}
        return dataclasses.replace(self, **parts, **top)

    def flat(self, name: str) -> Any:
        """The value of one flat-named setting."""
        part, attribute = FLAT_NAMES[name]
        return getattr(self if part is None else getattr(self, part), attribute)


#: Each flat setting name -> (the part holding it, or None for the objective; its field).
FLAT_NAMES: dict[str, tuple[str | None, str]] = {
    "lambda_msml": ("weights", "msml"),
    "lambda_ecr": ("weights", "ecr"),
    "max_angle": ("transform", "max_angle"),
    "keep": ("ecr", "keep"),
    "mask_padding": ("ecr", "mask_padding"),
    "mask_input": (None, "mask_input"),
    "label_loss_maps": ("ecr", "label_maps"),
    "ecr_normalize": ("normalization", "mode"),
    "ecr_resolution": ("ecr", "resolution"),
    "msml_reduction": ("msml", "reduction"),
    "msml_on": ("msml", "on"),
    "angle_per": ("transform", "angle_per"),
    "transform": ("transform", "kind"),
    "rescale_factor": ("transform", "rescale_factor"),
    "rotation": ("transform", "rotation"),
    "ecr_targets": ("targets", "when"),
    "onehot": ("targets", "onehot"),
    "normalize_eps": ("normalization", "eps"),
    "lambda_er": ("weights", "er"),
    "lambda_min_pool": ("weights", "min_pool"),
    "authors_input_bug": (None, "authors_input_bug"),
}

#: Each source's objective (the package README tabulates them): the paper's text with SEAM where
#: it is silent (``"paper"``); ``train_SEAM.py`` lines 104-142 and ``tool/visualization.py``
#: ``max_norm`` (``"seam"``); the authors' ``scripts/create_model.py`` ``PcmModel.train_step``
#: lines 62-104 and ``utils.max_norm`` (``"authors"``); this package's first release
#: (``"masked-cam-scale"``: labels mask the PCM's input, the ECR compares un-normalised maps at
#: the CAMs' resolution, one angle per image). ``mask_padding`` is this package's own choice, so
#: SEAM and the authors turn it off.
SEAM_OBJECTIVES: dict[str, SEAMObjective] = {
    "paper": SEAMObjective(),
    "seam": SEAMObjective(
        transform=SiameseTransform(kind="rescale"),
        normalization=MapNormalization("minmax"),
        targets=ECRTargets("after", "foreground"),
        ecr=ECRTerm(mask_padding=False),
        msml=MSMLTerm(on="cams"),
        weights=TermWeights(msml=1.0, er=1.0, min_pool=1.0),
    ),
    "authors": SEAMObjective(
        transform=SiameseTransform(rotation="torchvision"),
        normalization=MapNormalization("max", eps=1e-6),
        targets=ECRTargets("after", "all"),
        ecr=ECRTerm(mask_padding=False),
        msml=MSMLTerm(reduction="sum"),
        authors_input_bug=True,
    ),
    "masked-cam-scale": SEAMObjective(
        transform=SiameseTransform(angle_per="image"),
        normalization=MapNormalization("none"),
        ecr=ECRTerm(resolution="cam", label_maps=False),
        mask_input=True,
    ),
}


#: Former names of :data:`SEAM_OBJECTIVES` entries, still accepted (with a ``FutureWarning``) so
#: that settings saved under them load.
RENAMED_OBJECTIVES: dict[str, str] = {"landed": "masked-cam-scale"}


def objective_name(name: str) -> str:
    """``name`` as a key of :data:`SEAM_OBJECTIVES`: a former name (:data:`RENAMED_OBJECTIVES`)
    becomes its new one, with a ``FutureWarning``; an unknown name is a ``ValueError``.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore", FutureWarning)
        ...     objective_name("landed")
        'masked-cam-scale'
    """
    if name in RENAMED_OBJECTIVES:
        new = RENAMED_OBJECTIVES[name]
        warnings.warn(
            f"The SEAM variant {name!r} is now called {new!r}; the old name will be removed.",
            FutureWarning,
            stacklevel=3,
        )
        return new
    if name not in SEAM_OBJECTIVES:
        raise ValueError(f"Unknown SEAM variant {name!r}; expected one of {list(SEAM_OBJECTIVES)}.")
    return name


def changed_settings(objective: SEAMObjective) -> dict[str, Any]:
    """The flat settings where ``objective`` differs from the paper's, in :data:`FLAT_NAMES`
    order.

    Examples:
        >>> sorted(changed_settings(SEAM_OBJECTIVES["masked-cam-scale"]))
        ['angle_per', 'ecr_normalize', 'ecr_resolution', 'label_loss_maps', 'mask_input']
    """
    paper = SEAM_OBJECTIVES["paper"]
    return {
        name: objective.flat(name)
        for name in FLAT_NAMES
        if objective.flat(name) != paper.flat(name)
    }
