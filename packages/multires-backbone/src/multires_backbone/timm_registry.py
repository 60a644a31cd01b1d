"""The multi-resolution models in timm's registry: ``timm.create_model("multires_resnet50")``.

Importing :mod:`multires_backbone` registers :data:`TIMM_NAMES`; each entry point builds the model
with :func:`multires_backbone.create_model` (the one implementation, which also takes any other
``multires_<timm name>``) and gives it a ``pretrained_cfg`` as timm models carry one: the input
normalisation of its backbone's weights, the paper's 256-px input and the classifier's name, so
``timm.data.resolve_data_config(model=model)`` and timm's transforms work unchanged.
``pretrained`` takes what :func:`create_model` takes (``True``/``"timm"``, ``"torchvision"`` or a
weights file): it loads the backbone's ImageNet weights; the merges and classifier are new.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from timm.models import register_model

from multires_backbone.cam_classifier import CAMClassifier
from multires_backbone.registry import MULTIRES_PREFIX, create_model

#: Registered in timm: the paper's two models, the demo's and a few common backbones.
TIMM_NAMES: tuple[str, ...] = tuple(
    MULTIRES_PREFIX + backbone
    for backbone in (
        "resnet50",
        "efficientnet_b4",
        "resnet10t",
        "resnet18",
        "resnet34",
        "resnet101",
        "efficientnet_b0",
    )
)
#: The input the paper trains and evaluates at.
INPUT_SIZE = (3, 256, 256)


def timm_pretrained_cfg(model: CAMClassifier) -> dict[str, Any]:
    """timm's ``pretrained_cfg`` for a CAM classifier: its normalisation, input and head."""
    mean, std = model.normalization
    return {
        "input_size": INPUT_SIZE,
        "mean": tuple(mean),
        "std": tuple(std),
        "interpolation": "bilinear",
        "crop_pct": 1.0,
        "num_classes": model.num_classes,
        "classifier": "classifier",
        "license": "apache-2.0",
    }


def _entry_point(name: str) -> Callable[..., CAMClassifier]:
    def build(
        pretrained: Any = False,
        pretrained_cfg: Any = None,
        pretrained_cfg_overlay: dict[str, Any] | None = None,
        cache_dir: Any = None,
        num_classes: int = 14,
        **kwargs: Any,
    ) -> CAMClassifier:
        model = create_model(name, num_classes=num_classes, pretrained=pretrained, **kwargs)
        model.pretrained_cfg = {**timm_pretrained_cfg(model), **(pretrained_cfg_overlay or {})}
        return model

    build.__name__ = build.__qualname__ = name
    build.__module__ = __name__
    build.__doc__ = f"The multi-resolution CAM classifier over timm's ``{name[9:]}``."
    return build


for _name in TIMM_NAMES:
    register_model(_entry_point(_name))
