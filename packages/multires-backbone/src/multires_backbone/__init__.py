"""Multi-resolution CAM classifiers over timm backbones (D'Souza, Reddy & Manjunath 2022)."""

from multires_backbone._pretrained import PretrainedWeightsError, create_backbone, port_state_dict
from multires_backbone.cam_classifier import MIN_INPUT_SIZE, CAMClassifier, CAMOutput
from multires_backbone.finetune import apply_finetune_policy
from multires_backbone.lse_pool import LSEPool2d, lse_pool2d
from multires_backbone.merge_block import MergeBlock
from multires_backbone.registry import (
    ModelConfig,
    create_model,
    is_multires,
    list_models,
    published_parameter_count,
    resolve_config,
)
from multires_backbone.timm_registry import TIMM_NAMES, timm_pretrained_cfg

__all__ = [
    "MIN_INPUT_SIZE",
    "TIMM_NAMES",
    "CAMClassifier",
    "CAMOutput",
    "LSEPool2d",
    "MergeBlock",
    "ModelConfig",
    "PretrainedWeightsError",
    "apply_finetune_policy",
    "create_backbone",
    "create_model",
    "is_multires",
    "list_models",
    "lse_pool2d",
    "port_state_dict",
    "published_parameter_count",
    "resolve_config",
    "timm_pretrained_cfg",
]
__version__ = "0.1.0"
