"""The dynamically weighted multi-label BCE of D'Souza, Reddy & Manjunath (2022), Eq. 3-5."""

from weighted_bce.loss import (
    DynamicWeightedBCEWithLogitsLoss,
    batch_class_weights,
    dynamic_weighted_bce_with_logits,
)

__all__ = [
    "DynamicWeightedBCEWithLogitsLoss",
    "batch_class_weights",
    "dynamic_weighted_bce_with_logits",
]
__version__ = "0.1.0"
