"""Named model configurations and ``create_model``.

Named entries carry the published configurations (Table 4 of D'Souza et al. 2022). Any other timm
CNN works by name as well: ``"<timm name>"`` builds a standard CAM classifier (CAMs at stride 32)
and ``"multires_<timm name>"`` a multi-resolution one (CAMs at stride 8), when the timm model
exposes feature maps at strides 8, 16 and 32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import timm

from multires_backbone._pretrained import PretrainedSpec, create_backbone
from multires_backbone.cam_classifier import CAMClassifier, MergeStyle

MULTIRES_PREFIX = "multires_"


@dataclass(frozen=True)
class ModelConfig:
    """Architecture data for one named model."""

    backbone: str
    multires: bool
    merge_style: MergeStyle = "resnet"


_REGISTRY: dict[str, ModelConfig] = {
    "resnet50": ModelConfig("resnet50", multires=False),
    "efficientnet_b4": ModelConfig("efficientnet_b4", multires=False),
    "multires_resnet50": ModelConfig("resnet50", multires=True, merge_style="resnet"),
    "multires_efficientnet_b4": ModelConfig("efficientnet_b4", multires=True, merge_style="concat"),
}


def list_models() -> list[str]:
    """The named configurations, sorted. Other timm CNNs work as ``<name>``/``multires_<name>``.

    Examples:
        >>> list_models()
        ['efficientnet_b4', 'multires_efficientnet_b4', 'multires_resnet50', 'resnet50']
    """
    return sorted(_REGISTRY)


def resolve_config(name: str) -> ModelConfig:
    """The :class:`ModelConfig` for a registered name or a (``multires_``-prefixed) timm name."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    multires = name.startswith(MULTIRES_PREFIX)
    backbone = name[len(MULTIRES_PREFIX) :] if multires else name
    if backbone and timm.is_model(backbone):
        return ModelConfig(backbone, multires=multires)
    raise ValueError(
        f"Unknown model {name!r}. Named models: {', '.join(list_models())}; or any timm CNN as "
        f"'<timm name>' or 'multires_<timm name>' (e.g. 'multires_resnet18')."
    )


def create_model(
    name: str,
    num_classes: int = 14,
    pretrained: PretrainedSpec = False,
    *,
    in_chans: int = 3,
    gamma: float = 10.0,
    extra_outputs: int = 0,
    merge_style: MergeStyle | None = None,
    head_dropout: float = 0.0,
    **timm_kwargs: Any,
) -> CAMClassifier:
    """Build a CAM classifier by name.

    Args:
        name: see :func:`list_models`, or ``"<timm name>"`` / ``"multires_<timm name>"``.
        num_classes: outputs returned in ``logits`` and ``cams``.
        pretrained: ``False``/``"none"``, ``True``/``"timm"`` (timm's ImageNet weights),
            ``"torchvision"`` (torchvision's, as the paper's authors used) or a path to a local
            weights file (timm's or torchvision's state dict); see :func:`create_backbone`.
        in_chans: input channels (1 for raw grayscale; timm adapts pretrained stem weights).
        gamma: LSE pooling sharpness (the paper uses 10).
        extra_outputs: unused classifier outputs; ``1`` reproduces the published models.
        merge_style: override the merge widths (``"resnet"`` or ``"concat"``).
        head_dropout: dropout before the classifier in training (authors' EfficientNet: 0.4).
        **timm_kwargs: passed to ``timm.create_model`` (e.g. ``drop_path_rate``).

    The published configuration of Table 4: ``create_model("multires_resnet50",
    extra_outputs=1)`` plus a PCM embedding ``Conv2d(C, C // 2, 1, bias=False)`` over
    ``C = model.num_features``; the standard models are counted with 14 outputs and no PCM.

    Examples:
        >>> import torch
        >>> model = create_model("multires_resnet18", num_classes=3)
        >>> out = model(torch.randn(1, 3, 70, 70))  # any size >= 32 px
        >>> tuple(out.cams.shape), model.cam_stride
        ((1, 3, 9, 9), 8)
    """
    config = resolve_config(name)
    backbone = create_backbone(config.backbone, pretrained, in_chans=in_chans, **timm_kwargs)
    return CAMClassifier(
        backbone,
        num_classes=num_classes,
        multires=config.multires,
        merge_style=merge_style or config.merge_style,
        gamma=gamma,
        extra_outputs=extra_outputs,
        head_dropout=head_dropout,
    )


def is_multires(name: str) -> bool:
    """Whether ``name`` builds a multi-resolution model (CAMs at stride 8).

    Examples:
        >>> is_multires("multires_efficientnet_b4"), is_multires("resnet50")
        (True, False)
    """
    return resolve_config(name).multires


def published_parameter_count(name: str, num_classes: int = 14) -> int:
    """Parameters of ``name`` counted as Table 4 of D'Souza et al. (2022) counts them.

    Multi-resolution models: backbone + merges + a classifier with one extra (unused) output +
    the PCM embedding, a bias-free 1x1 convolution ``C -> C // 2``. Standard models: backbone +
    a ``num_classes``-way classifier, no PCM.

    Examples:
        >>> published_parameter_count("multires_resnet50")
        26273615
    """
    multires = is_multires(name)
    model = create_model(name, num_classes=num_classes, extra_outputs=int(multires))
    count = sum(p.numel() for p in model.parameters())
    if multires:
        count += model.num_features * (model.num_features // 2)
    return count
