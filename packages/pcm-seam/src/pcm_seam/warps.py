"""Rotations for SEAM's equivariance, with a mask of the pixels that stay valid.

:func:`rotate_with_mask` (kornia) is this package's rotation; :func:`rotate_torchvision_with_mask`
is ``torchvision.transforms.functional.rotate`` (bilinear, zero fill), the one the authors' code
rotates with, for their variant of the SEAM objective.

Convention (kornia):
    Angles are in degrees, positive = counter-clockwise as the image is displayed (row 0 at the
    top), about the centre ``((W - 1) / 2, (H - 1) / 2)``. Sampling is bilinear with zero fill
    and ``align_corners=True`` for every warp, forward and inverse, so that a rotation by 90
    degrees of a square map equals ``torch.rot90(x, 1, dims=(-2, -1))``. The warp is computed in
    float32.
"""

from __future__ import annotations

import torch
from kornia.geometry.transform import rotate as kornia_rotate

from pcm_seam._checks import check_ndim

ALIGN_CORNERS = True
VALID_THRESHOLD = 1.0 - 1e-4


def rotate_with_mask(
    x: torch.Tensor, angles_deg: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate each sample by its own angle; also return where the result is valid.

    Args:
        x: ``(B, C, H, W)`` images or maps.
        angles_deg: ``(B,)`` angles in degrees (counter-clockwise).

    Returns:
        ``(rotated, valid)``: ``rotated`` float32 ``(B, C, H, W)``; ``valid`` a bool mask
        ``(B, 1, H, W)``, true where every sample the bilinear warp read lies inside the input
        (false in the zero-filled corners).

    Examples:
        >>> import torch
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> rotated, valid = rotate_with_mask(x, torch.tensor([90.0]))
        >>> torch.allclose(rotated, torch.rot90(x, 1, dims=(-2, -1)), atol=1e-4), bool(valid.all())
        (True, True)
    """
    check_ndim(x, "x", "B C H W")
    if not isinstance(angles_deg, torch.Tensor):
        angles_deg = torch.as_tensor(angles_deg, dtype=torch.float32)
    if angles_deg.shape != (x.shape[0],):
        raise ValueError(
            f"Expected `angles_deg` of shape ({x.shape[0]},), one angle per sample, "
            f"got {tuple(angles_deg.shape)}."
        )
    angles = angles_deg.to(device=x.device, dtype=torch.float32)
    with torch.autocast(device_type=x.device.type, enabled=False):
        ones = torch.ones_like(x[:, :1], dtype=torch.float32)
        stacked = torch.cat([x.float(), ones], dim=1)
        warped = kornia_rotate(
            stacked, angles, mode="bilinear", padding_mode="zeros", align_corners=ALIGN_CORNERS
        )
    return warped[:, :-1], warped[:, -1:] >= VALID_THRESHOLD


def rotate_torchvision_with_mask(
    x: torch.Tensor, angles_deg: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`rotate_with_mask` with ``torchvision.transforms.functional.rotate`` instead of
    kornia (bilinear, zero fill, about the image centre, counter-clockwise, in ``x``'s dtype):
    the authors' ``PcmModel.affine_transform``. Needs torchvision.

    Examples:
        >>> x = torch.ones(1, 1, 8, 8)
        >>> rotated, valid = rotate_torchvision_with_mask(x, torch.tensor([30.0]))
        >>> bool(valid[0, 0, 4, 4]), bool(valid[0, 0, 0, 0])
        (True, False)
    """
    check_ndim(x, "x", "B C H W")
    angles = torch.as_tensor(angles_deg)
    if angles.shape != (x.shape[0],):
        raise ValueError(
            f"Expected `angles_deg` of shape ({x.shape[0]},), one angle per sample, "
            f"got {tuple(angles.shape)}."
        )
    try:
        from torchvision.transforms.functional import InterpolationMode, rotate
    except ImportError as error:  # pragma: no cover - torchvision ships with most torch installs
        raise ImportError(
            "rotation='torchvision' needs torchvision: pip install torchvision"
        ) from error
    stacked = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    warped = torch.cat(
        [
            rotate(stacked[i : i + 1], float(angle), interpolation=InterpolationMode.BILINEAR)
            for i, angle in enumerate(angles.tolist())
        ]
    )
    return warped[:, :-1], warped[:, -1:] >= VALID_THRESHOLD
