"""A CAM-producing multi-label classifier over any timm CNN, standard or multi-resolution.

Standard: the backbone's last map (stride 32) is the feature map ``F``. Multi-resolution
(D'Souza et al. 2022, Fig. 2a): the stride-32 map is merged into the stride-16 map, and the result
into the stride-8 map, with :class:`MergeBlock`. In both, LSE pooling of ``F`` followed by a 1x1
convolution gives the logits, and the same 1x1 convolution applied to every pixel of ``F`` gives the
class activation maps (CAMs).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from multires_backbone.lse_pool import LSEPool2d
from multires_backbone.merge_block import MergeBlock

MergeStyle = Literal["resnet", "concat"]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MERGE_STYLES: tuple[str, ...] = ("resnet", "concat")


class CAMOutput(NamedTuple):
    """What :class:`CAMClassifier` returns; unpacks as ``logits, cams, features``.

    Attributes:
        logits: ``(B, num_classes)`` class scores (before the sigmoid).
        cams: ``(B, num_classes, h, w)`` the classifier applied per pixel of ``features``.
        features: ``(B, C, h, w)`` the map the CAMs come from (the PCM's input).
    """

    logits: torch.Tensor
    cams: torch.Tensor
    features: torch.Tensor


#: The smallest input side a CAM classifier accepts: one pixel of the stride-32 feature map.
MIN_INPUT_SIZE = 32


def _reduction_index(feature_info: list[dict], reduction: int, backbone: str) -> int:
    matches = [i for i, info in enumerate(feature_info) if info["reduction"] == reduction]
    if not matches:
        found = [info["reduction"] for info in feature_info]
        raise ValueError(
            f"Backbone {backbone!r} has no feature map at stride {reduction} (it has {found}); "
            "a multi-resolution model needs maps at strides 8, 16 and 32."
        )
    return matches[-1]


def _build_merges(channels_8: int, channels_16: int, channels_32: int, style: str) -> nn.ModuleList:
    if style == "resnet":
        first = MergeBlock(channels_32, channels_16)
        second = MergeBlock(first.out_channels, channels_8)
    elif style == "concat":
        first = MergeBlock(
            channels_32,
            channels_16,
            fine_out=channels_16,
            out_channels=channels_32 // 4 + channels_16,
        )
        merged = first.out_channels
        second = MergeBlock(
            merged, channels_8, fine_out=channels_8, out_channels=merged // 4 + channels_8
        )
    else:
        raise ValueError(f"Expected `merge_style` to be one of {MERGE_STYLES}, got {style!r}.")
    return nn.ModuleList([first, second])


class CAMClassifier(nn.Module):
    """LSE-pooled CAM classifier over a timm backbone (``num_classes=0, global_pool=""``).

    Args:
        backbone: a timm model with ``forward_features``, ``forward_intermediates`` and
            ``feature_info`` (most timm CNNs).
        num_classes: number of classes returned in ``logits`` and ``cams``.
        multires: merge the stride-32 map into the stride-16 and stride-8 maps.
        merge_style: ``"resnet"`` (published ResNet50 widths) or ``"concat"`` (published
            EfficientNetB4 widths); see :class:`MergeBlock`.
        gamma: LSE pooling sharpness.
        extra_outputs: extra classifier outputs that are computed but not returned. The published
            models carry one (15 outputs for 14 classes); use 1 to reproduce their Table 4 counts.
        head_dropout: dropout on the pooled features before the classifier, in training only
            (the authors' EfficientNet-B4: 0.4). The CAMs never see it.

    Frozen batch-norm layers (all parameters with ``requires_grad=False``) stay in eval mode when
    the model is put in training mode, so their running statistics do not move.

    Examples:
        >>> import timm, torch
        >>> backbone = timm.create_model("resnet18", num_classes=0, global_pool="")
        >>> model = CAMClassifier(backbone, num_classes=14, multires=True)
        >>> out = model(torch.randn(2, 3, 64, 64))
        >>> out.logits.shape, out.cams.shape, out.features.shape, model.cam_stride
        (torch.Size([2, 14]), torch.Size([2, 14, 8, 8]), torch.Size([2, 128, 8, 8]), 8)
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_classes: int = 14,
        multires: bool = False,
        merge_style: MergeStyle = "resnet",
        gamma: float = 10.0,
        extra_outputs: int = 0,
        head_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0 <= head_dropout < 1:
            raise ValueError(f"Expected `head_dropout` in [0, 1), got {head_dropout!r}.")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"Expected `num_classes` to be a positive int, got {num_classes!r}.")
        if not isinstance(extra_outputs, int) or extra_outputs < 0:
            raise ValueError(f"Expected `extra_outputs` to be an int >= 0, got {extra_outputs!r}.")
        self.backbone = backbone
        self.num_classes = num_classes
        self.extra_outputs = extra_outputs
        self.multires = multires
        feature_info = list(backbone.feature_info)
        name = type(backbone).__name__
        if multires:
            index_8 = _reduction_index(feature_info, 8, name)
            index_16 = _reduction_index(feature_info, 16, name)
            self._intermediate_indices = [index_8, index_16]
            self.merges = _build_merges(
                feature_info[index_8]["num_chs"],
                feature_info[index_16]["num_chs"],
                backbone.num_features,
                merge_style,
            )
            self.num_features = self.merges[-1].out_channels
            self.cam_stride = 8
        else:
            self._intermediate_indices = []
            self.merges = nn.ModuleList()
            self.num_features = backbone.num_features
            self.cam_stride = int(feature_info[-1]["reduction"])
        # the layer whose output is F: the target layer for Grad-CAM and other gradient methods
        self.feature_map = nn.Identity()
        self.pool = LSEPool2d(gamma)
        self.head_dropout = nn.Dropout(head_dropout) if head_dropout > 0 else nn.Identity()
        self.classifier = nn.Conv2d(self.num_features, num_classes + extra_outputs, 1, bias=True)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map ``F`` of shape ``(B, num_features, h, w)``."""
        if x.ndim != 4:
            raise ValueError(f"Expected `x` of shape (B, C, H, W), got {tuple(x.shape)}.")
        if min(x.shape[-2:]) < MIN_INPUT_SIZE:
            raise ValueError(
                f"Expected an input of at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} pixels, got "
                f"{tuple(x.shape)}."
            )
        if not self.merges:
            return self.backbone.forward_features(x)
        top, (fine_8, fine_16) = self.backbone.forward_intermediates(
            x, indices=self._intermediate_indices, intermediates_only=False
        )
        merged = self.merges[0](top, fine_16)
        return self.merges[1](merged, fine_8)

    def forward(self, x: torch.Tensor) -> CAMOutput:
        features = self.feature_map(self.forward_features(x))
        logits = self.classifier(self.head_dropout(self.pool(features))).flatten(1)
        cams = self.classifier(features)
        return CAMOutput(
            logits=logits[:, : self.num_classes],
            cams=cams[:, : self.num_classes],
            features=features,
        )

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(mean, std)`` the input should be normalised with: the backbone weights' own
        (timm's ``pretrained_cfg``), ImageNet's when the backbone has none."""
        cfg = getattr(self.backbone, "pretrained_cfg", None) or {}
        mean = tuple(float(v) for v in cfg.get("mean", IMAGENET_MEAN))
        std = tuple(float(v) for v in cfg.get("std", IMAGENET_STD))
        return mean, std

    def new_modules(self) -> list[nn.Module]:
        """The layers this class adds on top of the backbone (merges and classifier)."""
        return [*self.merges, self.classifier]

    def train(self, mode: bool = True) -> CAMClassifier:
        super().train(mode)
        if mode:
            for module in self.modules():
                params = list(module.parameters(recurse=False))
                if (
                    isinstance(module, _BatchNorm)
                    and params
                    and not any(p.requires_grad for p in params)
                ):
                    module.eval()
        return self
