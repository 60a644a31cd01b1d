"""MergeBlock: fuse a coarse feature map into a finer one (D'Souza et al. 2022, Fig. 2b).

Three 1x1 Conv-BN-ReLU blocks: one on the coarse branch, one on the fine branch, one on their
concatenation. The coarse branch is upsampled bilinearly to the fine map's *size* (not by a fixed
factor of 2), so inputs whose side is not a multiple of 32 work.

The fuse convolution is 1x1, and a 1x1 convolution commutes with bilinear upsampling, so its part
that reads the coarse branch runs *before* the upsampling, at the coarse size
(``fuse_at_coarse=True``, the default): the same function (to float rounding, in training and
evaluation mode) with fewer FLOPs, and the same parameters, so checkpoints load either way.

Published widths: the ResNet50 merges use coarse ``n -> n/4``, fine ``m -> m/4`` and output ``m``
(the defaults here); the EfficientNetB4 merges keep the fine branch at full width and output the
concatenated width (``coarse_out=n/4, fine_out=m, out_channels=n/4 + m``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class MergeBlock(nn.Module):
    """Merge a coarse map ``(B, n, h, w)`` into a fine map ``(B, m, H, W)``.

    Args:
        coarse_channels: ``n``, channels of the coarse (low-resolution) input.
        fine_channels: ``m``, channels of the fine (high-resolution) input.
        coarse_out: width of the coarse branch; default ``n // 4``.
        fine_out: width of the fine branch; default ``m // 4``.
        out_channels: width of the output; default ``m``.
        fuse_at_coarse: apply the fuse convolution's coarse part before upsampling (faster, same
            result); ``False`` runs the block literally as published.

    Shape:
        - coarse: ``(B, n, h, w)``; fine: ``(B, m, H, W)``; output: ``(B, out_channels, H, W)``.

    Examples:
        >>> import torch
        >>> block = MergeBlock(2048, 1024)
        >>> block(torch.randn(1, 2048, 3, 3), torch.randn(1, 1024, 5, 5)).shape
        torch.Size([1, 1024, 5, 5])
    """

    def __init__(
        self,
        coarse_channels: int,
        fine_channels: int,
        coarse_out: int | None = None,
        fine_out: int | None = None,
        out_channels: int | None = None,
        fuse_at_coarse: bool = True,
    ) -> None:
        super().__init__()
        coarse_out = coarse_channels // 4 if coarse_out is None else coarse_out
        fine_out = fine_channels // 4 if fine_out is None else fine_out
        out_channels = fine_channels if out_channels is None else out_channels
        widths = {
            "coarse_channels": coarse_channels,
            "fine_channels": fine_channels,
            "coarse_out": coarse_out,
            "fine_out": fine_out,
            "out_channels": out_channels,
        }
        for name, value in widths.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected `{name}` to be a positive int, got {value!r}.")
        self.coarse_channels = coarse_channels
        self.fine_channels = fine_channels
        self.out_channels = out_channels
        self.coarse = _conv_bn_relu(coarse_channels, coarse_out)
        self.fine = _conv_bn_relu(fine_channels, fine_out)
        self.fuse = _conv_bn_relu(coarse_out + fine_out, out_channels)
        self.coarse_out = coarse_out
        self.fuse_at_coarse = fuse_at_coarse

    def forward(self, coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
        if coarse.ndim != 4 or coarse.shape[1] != self.coarse_channels:
            raise ValueError(
                f"Expected `coarse` of shape (B, {self.coarse_channels}, h, w), "
                f"got {tuple(coarse.shape)}."
            )
        if (
            fine.ndim != 4
            or fine.shape[1] != self.fine_channels
            or fine.shape[0] != coarse.shape[0]
        ):
            raise ValueError(
                f"Expected `fine` of shape ({coarse.shape[0]}, {self.fine_channels}, H, W), "
                f"got {tuple(fine.shape)}."
            )
        size = fine.shape[-2:]
        if not self.fuse_at_coarse:
            up = F.interpolate(self.coarse(coarse), size=size, mode="bilinear", align_corners=False)
            return self.fuse(torch.cat([up, self.fine(fine)], dim=1))
        conv, norm, act = self.fuse
        weight = conv.weight
        mixed_coarse = F.conv2d(self.coarse(coarse), weight[:, : self.coarse_out])
        mixed = F.interpolate(mixed_coarse, size=size, mode="bilinear", align_corners=False)
        mixed = mixed + F.conv2d(self.fine(fine), weight[:, self.coarse_out :])
        return act(norm(mixed))

    def extra_repr(self) -> str:
        return f"fuse_at_coarse={self.fuse_at_coarse}"
