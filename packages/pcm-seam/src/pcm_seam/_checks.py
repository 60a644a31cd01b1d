"""Shape checks shared by the public functions (messages name the argument and its shape)."""

from __future__ import annotations

import torch


def check_ndim(tensor: torch.Tensor, name: str, dims: str) -> None:
    """Raise unless ``tensor`` is a tensor with ``len(dims.split())`` dims, e.g. ``"B C H W"``."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"Expected `{name}` to be a torch.Tensor, got {type(tensor).__name__}.")
    expected = dims.split()
    if tensor.ndim != len(expected):
        raise ValueError(
            f"Expected `{name}` of shape ({', '.join(expected)}), got shape {tuple(tensor.shape)}."
        )


def check_same_shape(a: torch.Tensor, name_a: str, b: torch.Tensor, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"Expected `{name_a}` and `{name_b}` to have the same shape, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}."
        )


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32, or float64 if it is float64 (half precision is promoted for the maths)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))
