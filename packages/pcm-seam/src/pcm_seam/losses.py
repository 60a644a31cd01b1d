"""SEAM losses: equivariant cross regularisation (ECR) with OHEM, and the multilabel soft margin.

Eq. 6 of D'Souza et al. (2022) prints a minus between the two ECR terms; SEAM (Wang et al. 2020)
and the authors' code *add* them, which is what a regulariser needs: both terms are summed here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pcm_seam._checks import at_least_float32, check_ndim, check_same_shape


def check_keep(keep: float) -> None:
    """Raise unless ``keep`` is an OHEM fraction in ``(0, 1]``."""
    if not (isinstance(keep, int | float) and 0 < keep <= 1):
        raise ValueError(f"Expected `keep` in (0, 1], got {keep!r}.")


def ohem(
    loss_map: torch.Tensor, keep: float = 0.2, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Online hard example mining: the mean of the largest ``keep`` fraction of entries per image.

    Args:
        loss_map: ``(B, C, h, w)`` non-reduced loss entries.
        keep: fraction kept per image, over all channels and pixels (SEAM: 0.2).
        mask: optional ``(B, 1, h, w)`` or ``(B, C, h, w)`` bool mask; only true entries count,
            and the fraction is taken of them.

    Returns:
        Scalar: the per-image means of the kept entries, averaged over the batch (an image with
        no valid entry contributes 0).

    Examples:
        >>> import torch
        >>> loss = torch.arange(10.0).view(1, 1, 2, 5)
        >>> ohem(loss, keep=0.2).item()  # top 2 of 10 entries: (9 + 8) / 2
        8.5
    """
    check_ndim(loss_map, "loss_map", "B C h w")
    check_keep(keep)
    flat = loss_map.flatten(1)
    if mask is None:
        valid_counts = torch.full((flat.shape[0],), flat.shape[1], device=flat.device)
    else:
        check_ndim(mask, "mask", "B C h w")
        mask = mask.expand_as(loss_map).flatten(1)
        flat = torch.where(mask, flat, torch.full_like(flat, -math.inf))
        valid_counts = mask.sum(dim=1)
    kept = torch.floor(valid_counts.to(torch.float64) * keep).long()
    kept = torch.where(valid_counts > 0, kept.clamp(min=1), kept)
    k_max = int(kept.max().item())
    if k_max == 0:
        return flat.new_zeros(())
    top = flat.topk(k_max, dim=1).values
    selected = torch.arange(k_max, device=flat.device)[None, :] < kept[:, None]
    sums = torch.where(selected, top, torch.zeros_like(top)).sum(dim=1)
    return (sums / kept.clamp(min=1).to(sums.dtype)).mean()


def ecr_loss(
    refined_a: torch.Tensor,
    cams_a: torch.Tensor,
    refined_b: torch.Tensor,
    cams_b: torch.Tensor,
    keep: float = 0.2,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Equivariant cross regularisation, both directions, L1, each term with OHEM, summed.

    ``ohem(|refined_a - cams_b|) + ohem(|cams_a - refined_b|)``, where the ``_a`` maps come from
    branch 1 *warped afterwards* (``A(y^o)``, ``A(yhat^o)``) and the ``_b`` maps from branch 2,
    which saw the warped image (``y^t``, ``yhat^t``). ``cams_*`` are targets and should carry no
    gradient.

    Args:
        refined_a: ``(B, C, h, w)`` refined maps of branch 1, warped afterwards.
        cams_a: ``(B, C, h, w)`` CAM targets of branch 1, warped afterwards.
        refined_b: ``(B, C, h, w)`` refined maps of branch 2.
        cams_b: ``(B, C, h, w)`` CAM targets of branch 2.
        keep: OHEM fraction per image.
        mask: optional ``(B, 1, h, w)`` bool mask of pixels valid in both branches.

    Examples:
        >>> import torch
        >>> cams = torch.rand(2, 3, 4, 4)
        >>> ecr_loss(cams, cams, cams, cams).item()  # a perfectly equivariant pair
        0.0
    """
    for name, tensor in (("refined_a", refined_a), ("cams_a", cams_a), ("refined_b", refined_b)):
        check_ndim(tensor, name, "B C h w")
        check_same_shape(tensor, name, cams_b, "cams_b")
    first = ohem((refined_a - cams_b).abs(), keep, mask)
    second = ohem((cams_a - refined_b).abs(), keep, mask)
    return first + second


def msml_loss(refined_cams: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Multilabel soft margin loss on the global average of the refined class maps.

    Args:
        refined_cams: ``(B, K, h, w)`` refined class maps (no background channel).
        labels: ``(B, K)`` binary image labels.

    Examples:
        >>> import torch
        >>> round(msml_loss(torch.ones(1, 2, 4, 4), torch.tensor([[1.0, 0.0]])).item(), 4)
        0.8133
    """
    check_ndim(refined_cams, "refined_cams", "B K h w")
    if labels.shape != refined_cams.shape[:2]:
        raise ValueError(
            f"Expected `labels` of shape {tuple(refined_cams.shape[:2])}, "
            f"got {tuple(labels.shape)}."
        )
    pooled = at_least_float32(refined_cams).mean(dim=(-2, -1))
    return F.multilabel_soft_margin_loss(pooled, labels.to(pooled.dtype))


def min_pooling_loss(maps: torch.Tensor) -> torch.Tensor:
    """SEAM's ``adaptive_min_pooling_loss``: the mean of the lowest quarter of pixels of the
    maximum over channels, after ReLU (it pushes the weakest pixels of the refined maps to 0).

    Args:
        maps: ``(B, K, h, w)`` refined class maps times the image labels (no background).

    Examples:
        >>> import torch
        >>> maps = torch.arange(8.0).view(1, 2, 2, 2)  # channel max: 4, 5, 6, 7
        >>> min_pooling_loss(maps).item()  # the lowest quarter: one pixel, 4
        4.0
    """
    check_ndim(maps, "maps", "B K h w")
    n, _, h, w = maps.shape
    k = h * w // 4
    if k == 0:
        raise ValueError(f"Expected maps of at least 4 pixels, got {h} x {w}.")
    lowest = maps.amax(dim=1).flatten(1).topk(k, dim=-1, largest=False).values
    return torch.relu(lowest).sum() / (k * n)
