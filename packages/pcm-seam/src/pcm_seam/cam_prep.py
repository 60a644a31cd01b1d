"""CAMs before the PCM: ReLU, max-normalise, add a background channel, non-max suppression.

As in SEAM (Wang et al., CVPR 2020) and D'Souza et al. (2022): each class map is divided by its
spatial maximum, the background is ``1 - max`` over the class maps, and at every pixel the class
maps below that pixel's largest class value are set to zero. The background is channel 0.
"""

from __future__ import annotations

import torch

from pcm_seam._checks import check_ndim

BACKGROUND_INDEX = 0


def prepare_cams(
    cams: torch.Tensor, labels: torch.Tensor | None = None, eps: float = 1e-5
) -> torch.Tensor:
    """Turn raw CAMs ``(B, K, h, w)`` into ``(B, K + 1, h, w)`` PCM inputs, background first.

    Args:
        cams: raw class activation maps (any real values).
        labels: optional ``(B, K)`` image labels; class maps are multiplied by them before the
            background is computed (classes absent from the image are zeroed).
        eps: added to each map's maximum before dividing.

    Returns:
        float32 tensor ``(B, K + 1, h, w)`` in ``[0, 1]``: channel 0 the background, channels
        ``1..K`` the classes after non-max suppression across classes.

    Examples:
        >>> import torch
        >>> cams = torch.tensor([[[[2.0, 0.0]], [[1.0, 4.0]]]])  # B=1, K=2, 1x2 map
        >>> prepare_cams(cams, eps=0.0)[0, :, 0].tolist()
        [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """
    check_ndim(cams, "cams", "B K h w")
    work = torch.relu(cams.float())
    work = work / (work.amax(dim=(-2, -1), keepdim=True) + eps)
    if labels is not None:
        if labels.shape != cams.shape[:2]:
            raise ValueError(
                f"Expected `labels` of shape {tuple(cams.shape[:2])}, got {tuple(labels.shape)}."
            )
        work = work * labels.to(work.dtype)[..., None, None]
    peak = work.amax(dim=1, keepdim=True)
    background = 1.0 - peak
    suppressed = torch.where(work < peak, torch.zeros_like(work), work)
    return torch.cat([background, suppressed], dim=1)
