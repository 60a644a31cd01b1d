"""Dynamically weighted multi-label binary cross-entropy (D'Souza et al. 2022, Eq. 3-5).

Each class ``c`` gets two weights computed from the *current batch*:

    beta_pos[c] = (|P_c| + |N_c|) / |P_c|        beta_neg[c] = (|P_c| + |N_c|) / |N_c|

where ``P_c`` and ``N_c`` are the positive and negative samples of class ``c`` in the batch. This
differs from ``torch.nn.BCEWithLogitsLoss(pos_weight=...)`` in two ways: the weights change with
every batch instead of being fixed from data-set statistics, and negatives are re-weighted too, so
a rare class contributes its positives and its negatives with equal total weight.

A class with no positives (or no negatives) in the batch has no such terms to weight; its
``beta_pos`` (or ``beta_neg``) is defined as 0, so the loss and its gradients stay finite.

A ``mask`` leaves labels out (an uncertain CheXpert or MIMIC label under the U-Ignore policy of
Irvin et al. 2019): a masked entry is neither a positive nor a negative of its class, so it counts
in neither ``|P_c|`` nor ``|N_c|``, adds nothing to the loss and gets zero gradient; the weights
are those of the entries kept. Whatever a masked target holds (``-1``, NaN) is never read.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from weighted_bce._checks import check_logits_and_targets

Reduction = Literal["none", "mean", "sum"]
_REDUCTIONS = ("none", "mean", "sum")


def batch_class_weights(
    targets: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class weights ``(beta_pos, beta_neg)`` of Eq. 4-5 from a batch of binary targets.

    Args:
        targets: binary labels of shape ``(B, C)``.
        mask: ``(B, C)``, true (1) where a label is kept; the counts are over kept entries.

    Returns:
        ``beta_pos`` and ``beta_neg``, each of shape ``(C,)`` in the dtype of ``targets``
        (float32 for integer or bool targets). A class with no positives
        has ``beta_pos = 0``; one with no negatives has ``beta_neg = 0``.

    Examples:
        >>> import torch
        >>> y = torch.tensor([[1., 0.], [0., 0.], [0., 0.], [0., 1.]])
        >>> beta_pos, beta_neg = batch_class_weights(y)
        >>> beta_pos.tolist(), [round(b, 4) for b in beta_neg.tolist()]
        ([4.0, 4.0], [1.3333, 1.3333])
        >>> keep = torch.tensor([[1, 1], [1, 1], [0, 1], [1, 1]]).bool()
        >>> batch_class_weights(y, keep)[0].tolist()  # class 0: 1 positive of 3 kept
        [3.0, 4.0]
    """
    if targets.ndim != 2:
        raise ValueError(
            f"Expected `targets` of shape (B, C) with 2 dims, got shape {tuple(targets.shape)}."
        )
    if not targets.is_floating_point():
        targets = targets.float()
    if mask is None:
        batch: torch.Tensor | float = float(targets.shape[0])
        n_pos = targets.sum(dim=0)
    else:
        kept = mask.to(targets.dtype)
        batch = kept.sum(dim=0)
        n_pos = torch.where(mask.bool(), targets, torch.zeros_like(targets)).sum(dim=0)
    n_neg = batch - n_pos
    zero = torch.zeros_like(n_pos)
    beta_pos = torch.where(n_pos > 0, batch / n_pos.clamp(min=1.0), zero)
    beta_neg = torch.where(n_neg > 0, batch / n_neg.clamp(min=1.0), zero)
    return beta_pos, beta_neg


def dynamic_weighted_bce_with_logits(
    logits: torch.Tensor,
    targets: torch.Tensor,
    reduction: Reduction = "mean",
    validate_args: bool = True,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 3: the batch-weighted multi-label BCE on logits.

    The log-sigmoid terms come from ``F.binary_cross_entropy_with_logits`` (stable for large
    logits); half-precision logits (e.g. under autocast) are upcast to float32 first, float64
    stays float64.

    Args:
        logits: raw scores of shape ``(B, C)``.
        targets: binary labels of shape ``(B, C)``, any numeric or bool dtype.
        reduction: ``"none"`` gives the ``(B, C)`` weighted terms, ``"sum"`` their sum and
            ``"mean"`` their sum divided by ``B`` (Eq. 3 per sample, averaged over the batch).
        validate_args: check shapes and that targets are binary; turn off in hot loops.
        mask: ``(B, C)`` bool (or 0/1), true where a label is kept; a masked entry's term is 0
            and its target is not read (U-Ignore). ``None`` keeps every label.

    Returns:
        A scalar, or ``(B, C)`` for ``reduction="none"``; float32 for half-precision logits,
        otherwise the dtype of ``logits``. ``"mean"`` still divides by ``B``.

    Examples:
        >>> import torch
        >>> logits = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
        >>> targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> round(dynamic_weighted_bce_with_logits(logits, targets).item(), 4)
        2.1074
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"Expected `reduction` to be one of {_REDUCTIONS}, got {reduction!r}.")
    if validate_args:
        check_logits_and_targets(logits, targets, mask)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    targets = targets.to(logits.dtype)
    if mask is not None:
        mask = mask.bool()
        targets = torch.where(mask, targets, torch.zeros_like(targets))  # -1 / NaN never read
    beta_pos, beta_neg = batch_class_weights(targets, mask)
    weight = targets * beta_pos + (1.0 - targets) * beta_neg
    if mask is not None:
        weight = weight * mask
    terms = F.binary_cross_entropy_with_logits(logits, targets, weight=weight, reduction="none")
    if reduction == "none":
        return terms
    total = terms.sum()
    return total / logits.shape[0] if reduction == "mean" else total


class DynamicWeightedBCEWithLogitsLoss(nn.Module):
    """Module form of :func:`dynamic_weighted_bce_with_logits`.

    Args:
        reduction: ``"none"``, ``"mean"`` (sum over classes, mean over the batch) or ``"sum"``.
        validate_args: check inputs on every call.

    Examples:
        >>> import torch
        >>> criterion = DynamicWeightedBCEWithLogitsLoss()
        >>> loss = criterion(torch.zeros(4, 3), torch.tensor([[1, 0, 0]] * 2 + [[0, 1, 0]] * 2))
        >>> loss.shape
        torch.Size([])
    """

    def __init__(self, reduction: Reduction = "mean", validate_args: bool = True) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Expected `reduction` to be one of {_REDUCTIONS}, got {reduction!r}.")
        self.reduction: Reduction = reduction
        self.validate_args = validate_args

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return dynamic_weighted_bce_with_logits(
            logits, targets, reduction=self.reduction, validate_args=self.validate_args, mask=mask
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
