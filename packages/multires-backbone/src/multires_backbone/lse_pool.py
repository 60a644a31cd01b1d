"""Log-Sum-Exp pooling (Wang et al., ChestX-ray8, CVPR 2017, Eq. 2).

``lse(x) = (1/gamma) * log( (1/S) * sum_ij exp(gamma * x_ij) )`` over the ``S = H*W`` pixels of each
channel. Large ``gamma`` tends to max pooling, small ``gamma`` to average pooling. This version is
computed with ``torch.logsumexp`` (max-shifted), so it stays finite for any finite input and gamma.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _check_gamma(gamma: float) -> None:
    if not (isinstance(gamma, int | float) and math.isfinite(gamma) and gamma > 0):
        raise ValueError(f"Expected `gamma` to be a finite number > 0, got {gamma!r}.")


def lse_pool2d(x: torch.Tensor, gamma: float = 10.0) -> torch.Tensor:
    """Log-Sum-Exp pooling over the spatial dims.

    Args:
        x: feature map of shape ``(B, C, H, W)``.
        gamma: sharpness; ``gamma -> inf`` gives max pooling, ``gamma -> 0`` average pooling.

    Returns:
        Tensor of shape ``(B, C, 1, 1)``, dtype of ``x`` (half precision is reduced in float32).

    Examples:
        >>> import torch
        >>> x = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
        >>> round(lse_pool2d(x, gamma=1e4).item(), 3)  # ~max
        3.0
        >>> round(lse_pool2d(x, gamma=1e-6).item(), 3)  # ~mean
        1.5
    """
    _check_gamma(gamma)
    if x.ndim != 4:
        raise ValueError(f"Expected `x` of shape (B, C, H, W), got shape {tuple(x.shape)}.")
    pixels = x.shape[-2] * x.shape[-1]
    if pixels == 0:
        raise ValueError(f"Expected a non-empty spatial map, got shape {tuple(x.shape)}.")
    work = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    pooled = (torch.logsumexp(gamma * work.flatten(2), dim=-1) - math.log(pixels)) / gamma
    return pooled[..., None, None].to(x.dtype)


class LSEPool2d(nn.Module):
    """Module form of :func:`lse_pool2d`.

    Examples:
        >>> import torch
        >>> LSEPool2d(gamma=10.0)(torch.zeros(2, 5, 7, 7)).shape
        torch.Size([2, 5, 1, 1])
    """

    def __init__(self, gamma: float = 10.0) -> None:
        super().__init__()
        _check_gamma(gamma)
        self.gamma = float(gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return lse_pool2d(x, self.gamma)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}"
