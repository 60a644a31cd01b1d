"""The paper's fine-tuning policy: train only the deep backbone stages and the new layers.

D'Souza et al. (2022, §5.1) train only the third and fourth ResNet50 blocks (``layer3``,
``layer4``) of the ImageNet backbone, plus every layer they add; earlier layers overfit quickly.
The general rule used here: freeze every backbone parameter up to and including the module that
produces the stride-8 feature map, train everything after it. For ResNet50 that is ``conv1``,
``bn1``, ``layer1``, ``layer2`` frozen; for EfficientNetB4 the stem and ``blocks.0``-``blocks.2``
(strides 2-8) frozen, ``blocks.3``-``blocks.6``, ``conv_head`` and ``bn2`` (strides 16-32)
trainable. Frozen batch-norm layers are kept in eval mode by :class:`CAMClassifier`.
"""

from __future__ import annotations

from multires_backbone.cam_classifier import CAMClassifier


def _boundary_module(model: CAMClassifier, stride: int) -> str:
    names = [info["module"] for info in model.backbone.feature_info if info["reduction"] == stride]
    if not names:
        raise ValueError(f"The backbone has no stride-{stride} feature map to freeze up to.")
    return names[-1]


def apply_finetune_policy(model: CAMClassifier, freeze_through_stride: int = 8) -> list[str]:
    """Freeze the early backbone, unfreeze the rest; return the names of the frozen parameters.

    Args:
        model: a :class:`CAMClassifier`.
        freeze_through_stride: freeze up to and including the stage that outputs this stride
            (8 reproduces the paper: ResNet ``layer3``/``layer4`` stay trainable).

    Examples:
        >>> from multires_backbone import create_model
        >>> model = create_model("multires_resnet18")
        >>> frozen = apply_finetune_policy(model)
        >>> frozen[0], frozen[-1].startswith("backbone.layer2"), model.backbone.layer3.training
        ('backbone.conv1.weight', True, True)
        >>> model.train().backbone.layer2[0].bn1.training  # frozen BN stays in eval mode
        False
    """
    boundary = _boundary_module(model, freeze_through_stride) + "."
    backbone_params = list(model.backbone.named_parameters())
    last_frozen = max(i for i, (name, _) in enumerate(backbone_params) if name.startswith(boundary))
    frozen = []
    for index, (name, param) in enumerate(backbone_params):
        param.requires_grad_(index > last_frozen)
        if index <= last_frozen:
            frozen.append(f"backbone.{name}")
    for module in model.new_modules():
        module.requires_grad_(True)
    model.train(model.training)
    return frozen
