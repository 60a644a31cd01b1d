"""The paper's image transforms (torchvision v2, so boxes follow every geometric step).

Train: ``RandomResizedCrop(size, scale=(0.8, 1.0), ratio=(0.75, 1.733))``, horizontal flip,
rotation within +-15 degrees; eval: resize only. Both end with 3 channels, float in ``[0, 1]``,
normalised with the ImageNet mean and standard deviation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def paper_transforms(
    train: bool,
    size: int = 256,
    *,
    scale: tuple[float, float] = (0.8, 1.0),
    ratio: tuple[float, float] = (0.75, 1.733),
    degrees: float = 15.0,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> v2.Compose:
    """The train or eval transform; call it as ``transform(image, boxes)``.

    ``image`` is a ``tv_tensors.Image`` (uint8, 1 or 3 channels) and ``boxes`` a
    ``tv_tensors.BoundingBoxes`` in ``XYWH`` format; the boxes come back in the output's pixels.

    Args:
        train: random crop, flip and rotation; else a resize only.
        size: output side in pixels.
        scale: ``RandomResizedCrop``'s area range (paper: (0.8, 1.0)).
        ratio: ``RandomResizedCrop``'s aspect range (paper: (0.75, 1.733)).
        degrees: rotation range ``[-degrees, degrees]`` (paper: 15).
        mean: normalisation mean of the pretrained weights used (default ImageNet's).
        std: normalisation standard deviation, likewise.

    Examples:
        >>> import torch
        >>> from torchvision import tv_tensors
        >>> image = tv_tensors.Image(torch.zeros(1, 1024, 1024, dtype=torch.uint8))
        >>> boxes = tv_tensors.BoundingBoxes([[512, 256, 100, 40]], format="XYWH",
        ...                                  canvas_size=(1024, 1024))
        >>> out, out_boxes = paper_transforms(train=False, size=256)(image, boxes)
        >>> tuple(out.shape), out_boxes.tolist()
        ((3, 256, 256), [[128, 64, 25, 10]])
    """
    if not isinstance(size, int) or size < 32:
        raise ValueError(f"Expected `size` to be an int >= 32, got {size!r}.")
    if train:
        geometry = [
            v2.RandomResizedCrop(size, scale=scale, ratio=ratio, antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomRotation(degrees),
        ]
    else:
        geometry = [v2.Resize((size, size), antialias=True)]
    return v2.Compose(
        [
            *geometry,
            v2.RGB(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def denormalize(
    images: torch.Tensor,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> torch.Tensor:
    """Undo the normalisation: ``(..., 3, H, W)`` back to ``[0, 1]`` (for display).

    Examples:
        >>> x = torch.rand(3, 4, 4)
        >>> torch.allclose(denormalize(v2.Normalize(IMAGENET_MEAN, IMAGENET_STD)(x)), x, atol=1e-6)
        True
    """
    mean_t = torch.tensor(mean, device=images.device).view(-1, 1, 1)
    std_t = torch.tensor(std, device=images.device).view(-1, 1, 1)
    return (images * std_t + mean_t).clamp(0, 1)


def transform_with_boxes(
    gray: np.ndarray, xywh: torch.Tensor, transform: Callable[..., tuple[Any, Any]] | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """An image and its boxes through ``transform`` together, as the data sets serve them.

    Args:
        gray: the uint8 ``(H, W)`` image.
        xywh: ``(N, 4)`` boxes in its pixels.
        transform: called as ``transform(image, boxes)`` (e.g. :func:`paper_transforms`), or
            ``None`` for the uint8 image as ``(3, H, W)``.

    Returns:
        The image tensor and the ``(N, 4)`` float boxes in its pixels.

    Examples:
        >>> image, boxes = transform_with_boxes(
        ...     np.zeros((64, 64), np.uint8), torch.tensor([[8.0, 8.0, 16.0, 16.0]]),
        ...     paper_transforms(False, 32))
        >>> tuple(image.shape), boxes.tolist()
        ((3, 32, 32), [[4.0, 4.0, 8.0, 8.0]])
    """
    height, width = gray.shape
    image = tv_tensors.Image(torch.from_numpy(gray)[None])
    boxes = tv_tensors.BoundingBoxes(xywh, format="XYWH", canvas_size=(height, width))
    if transform is not None:
        image, boxes = transform(image, boxes)
    else:
        image = image.expand(3, -1, -1).clone()
    return image.as_subclass(torch.Tensor), boxes.as_subclass(torch.Tensor).float()
