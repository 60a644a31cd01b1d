"""Input validation for the weighted BCE (shapes and binary targets)."""

from __future__ import annotations

import torch


def check_logits_and_targets(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
) -> None:
    """Raise ``ValueError`` unless ``logits``, ``targets`` (and ``mask``) are matching ``(B, C)``
    tensors and ``targets`` holds only 0 and 1 where ``mask`` keeps it."""
    checked = (("logits", logits), ("targets", targets))
    for name, value in (*checked, *((("mask", mask),) if mask is not None else ())):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"Expected `{name}` to be a torch.Tensor, got {type(value).__name__}.")
    if logits.ndim != 2:
        raise ValueError(
            f"Expected `logits` of shape (B, C) with 2 dims, got {logits.ndim} dims "
            f"with shape {tuple(logits.shape)}."
        )
    if targets.shape != logits.shape:
        raise ValueError(
            f"Expected `targets` to have the shape of `logits` {tuple(logits.shape)}, "
            f"got {tuple(targets.shape)}."
        )
    if logits.shape[0] == 0:
        raise ValueError("Expected a non-empty batch, got `logits` with B = 0.")
    if not logits.is_floating_point():
        raise TypeError(f"Expected floating-point `logits`, got dtype {logits.dtype}.")
    is_binary = (targets == 0) | (targets == 1)
    if mask is not None:
        if mask.shape != logits.shape:
            raise ValueError(
                f"Expected `mask` to have the shape of `logits` {tuple(logits.shape)}, "
                f"got {tuple(mask.shape)}."
            )
        if mask.dtype != torch.bool and not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError("Expected a boolean or 0/1 `mask`.")
        is_binary = is_binary | ~mask.bool()
    if not bool(is_binary.all()):
        bad = targets[~is_binary].flatten()[:5].tolist()
        raise ValueError(
            f"Expected binary `targets` (only 0 and 1), got other values such as {bad}."
        )
