"""Pixel Correlation Module (SEAM, Wang et al. 2020; D'Souza et al. 2022, Eq. 2).

``y_i = sum_j ReLU(cos(theta(x_i), theta(x_j))) * yhat_j / (sum_j ReLU(cos(...)) + eps)``: each
pixel of the refined CAM is the affinity-weighted average of the input CAM over *all* pixels,
with affinities from a learned 1x1 embedding ``theta`` (no bias) of the backbone features.

Memory: the dense affinity matrix has ``(h*w)^2`` entries per image (4 MiB in float32 for a
32x32 map, 64 MiB for 64x64, 1 GiB for 128x128). ``chunk_size`` bounds it to ``chunk_size * h*w``
entries by processing the query pixels in chunks; the result is the same. ``chunk_size="auto"``
picks the largest chunk whose affinity (and, in training, its saved copy) fits ``memory_budget``
bytes (:func:`auto_chunk_size`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pcm_seam._checks import check_ndim


def _check_pair(embeddings: torch.Tensor, cams: torch.Tensor, name: str = "embeddings") -> None:
    check_ndim(embeddings, name, "B E h w")
    check_ndim(cams, "cams", "B K h w")
    if embeddings.shape[0] != cams.shape[0] or embeddings.shape[-2:] != cams.shape[-2:]:
        raise ValueError(
            f"Expected `{name}` and `cams` with the same batch and map size, got "
            f"{tuple(embeddings.shape)} and {tuple(cams.shape)}."
        )


#: Default memory budget of ``chunk_size="auto"``: 256 MiB of affinity per call.
DEFAULT_MEMORY_BUDGET = 256 * 2**20
ChunkSize = int | None | str


def auto_chunk_size(
    batch: int, pixels: int, memory_budget: int = DEFAULT_MEMORY_BUDGET, element_size: int = 4
) -> int | None:
    """Query pixels per chunk so that ``2 x batch x chunk x pixels`` affinity entries (the
    matrix and, under autograd, its saved ReLU output) fit ``memory_budget`` bytes; ``None``
    (dense) when all ``pixels`` fit.

    Examples:
        >>> auto_chunk_size(1, 32 * 32), auto_chunk_size(1, 128 * 128)  # 8 MiB dense; 2 GiB
        (None, 2048)
    """
    per_query = 2 * batch * pixels * element_size
    chunk = max(1, memory_budget // per_query)
    return None if chunk >= pixels else int(chunk)


def pixel_correlation(
    embeddings: torch.Tensor,
    cams: torch.Tensor,
    eps: float = 1e-5,
    chunk_size: ChunkSize = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    validate_args: bool = True,
) -> torch.Tensor:
    """Eq. 2: refine ``cams`` by ReLU'd cosine affinities between pixel embeddings.

    Args:
        embeddings: ``(B, E, h, w)`` pixel embeddings ``theta(x)``.
        cams: ``(B, K, h, w)`` maps to propagate.
        eps: added to each pixel's affinity sum.
        chunk_size: number of query pixels per chunk (``None``: all at once; ``"auto"``: from
            ``memory_budget``).
        memory_budget: bytes of affinity per call for ``chunk_size="auto"``.
        validate_args: check the shapes (callers that already did, like :class:`PCM`, skip it).

    Returns:
        ``(B, K, h, w)`` refined maps, computed in float32 even under autocast (float64 inputs
        stay float64).

    Examples:
        >>> import torch
        >>> emb = torch.ones(1, 4, 3, 3)               # every pixel alike: a global average
        >>> cam = torch.arange(9.0).view(1, 1, 3, 3)
        >>> pixel_correlation(emb, cam, eps=0.0).unique().tolist()
        [4.0]
    """
    if validate_args:
        _check_pair(embeddings, cams)
    if chunk_size == "auto":
        chunk_size = auto_chunk_size(cams.shape[0], cams.shape[-2] * cams.shape[-1], memory_budget)
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(
            f"Expected `chunk_size` to be a positive int, 'auto' or None, got {chunk_size!r}."
        )
    batch, _, height, width = cams.shape
    dtype = torch.promote_types(torch.promote_types(embeddings.dtype, cams.dtype), torch.float32)
    with torch.autocast(device_type=cams.device.type, enabled=False):
        keys = F.normalize(embeddings.to(dtype).flatten(2), dim=1)  # (B, E, N)
        values = cams.to(dtype).flatten(2).transpose(1, 2)  # (B, N, K)
        pixels = keys.shape[-1]
        step = pixels if chunk_size is None else chunk_size
        outputs = []
        for start in range(0, pixels, step):
            queries = keys[:, :, start : start + step]  # (B, E, n)
            affinity = torch.relu_(queries.transpose(1, 2) @ keys)  # (B, n, N), in place
            weighted = affinity @ values  # (B, n, K)
            outputs.append(weighted / (affinity.sum(dim=-1, keepdim=True) + eps))
        refined = torch.cat(outputs, dim=1)
    return refined.transpose(1, 2).reshape(batch, -1, height, width)


class PCM(nn.Module):
    """Pixel Correlation Module: a bias-free 1x1 embedding and :func:`pixel_correlation`.

    Args:
        in_channels: channels ``C`` of the backbone feature map.
        embed_channels: embedding width (default ``C // 2``, as published).
        chunk_size: query pixels per chunk, to bound memory on large maps (``None``: dense;
            ``"auto"``: the largest chunk within ``memory_budget`` bytes).
        memory_budget: bytes of affinity per call for ``chunk_size="auto"``.
        eps: added to each pixel's affinity sum.
        detach_features: stop gradients into the backbone (the SEAM stage trains only the PCM).
        image_channels: also read the image, average-pooled to the map's size and concatenated
            to the features (SEAM's PCM reads the image; the paper's does not: 0).

    Examples:
        >>> import torch
        >>> pcm = PCM(512)
        >>> refined = pcm(torch.randn(2, 512, 32, 32), torch.rand(2, 15, 32, 32))
        >>> refined.shape, sum(p.numel() for p in pcm.parameters())
        (torch.Size([2, 15, 32, 32]), 131072)
    """

    def __init__(
        self,
        in_channels: int,
        embed_channels: int | None = None,
        chunk_size: ChunkSize = None,
        eps: float = 1e-5,
        detach_features: bool = True,
        image_channels: int = 0,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
    ) -> None:
        super().__init__()
        if not isinstance(image_channels, int) or image_channels < 0:
            raise ValueError(
                f"Expected `image_channels` to be an int >= 0, got {image_channels!r}."
            )
        embed_channels = in_channels // 2 if embed_channels is None else embed_channels
        for name, value in (("in_channels", in_channels), ("embed_channels", embed_channels)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected `{name}` to be a positive int, got {value!r}.")
        self.in_channels = in_channels
        self.image_channels = image_channels
        self.embedding = nn.Conv2d(
            in_channels + image_channels, embed_channels, kernel_size=1, bias=False
        )
        self.chunk_size = chunk_size
        self.memory_budget = memory_budget
        self.eps = eps
        self.detach_features = detach_features

    def forward(
        self, features: torch.Tensor, cams: torch.Tensor, images: torch.Tensor | None = None
    ) -> torch.Tensor:
        check_ndim(features, "features", "B C h w")
        if features.shape[1] != self.in_channels:
            raise ValueError(
                f"Expected `features` with {self.in_channels} channels, "
                f"got {tuple(features.shape)}."
            )
        if self.detach_features:
            features = features.detach()
        if self.image_channels:
            if images is None or images.ndim != 4 or images.shape[1] != self.image_channels:
                got = None if images is None else tuple(images.shape)
                raise ValueError(
                    f"Expected `images` (B, {self.image_channels}, H, W) for a PCM that reads "
                    f"the image, got {got}."
                )
            pooled = F.adaptive_avg_pool2d(images.to(features.dtype), features.shape[-2:])
            features = torch.cat([features, pooled], dim=1)
        _check_pair(features, cams, "features")
        embeddings = self.embedding(features)
        return pixel_correlation(
            embeddings, cams, self.eps, self.chunk_size, self.memory_budget, validate_args=False
        )

    def extra_repr(self) -> str:
        return (
            f"chunk_size={self.chunk_size}, detach_features={self.detach_features}, "
            f"image_channels={self.image_channels}"
        )
