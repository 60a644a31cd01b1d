"""Box conversions between image sizes.

Convention: ``xywh`` in pixels, ``(x, y)`` top-left, continuous coordinates (pixel ``(i, j)``
covers ``[i, i + 1) x [j, j + 1)``), so a resize from ``(H, W)`` to ``(H', W')`` scales ``x`` and
``w`` by ``W' / W`` and ``y`` and ``h`` by ``H' / H``.
"""

from __future__ import annotations

import torch


def rescale_boxes(
    boxes: torch.Tensor, from_size: tuple[int, int], to_size: tuple[int, int]
) -> torch.Tensor:
    """Rescale ``(N, 4)`` ``xywh`` boxes from an image of ``(H, W)`` to one of ``(H', W')``.

    Example:
        >>> rescale_boxes(torch.tensor([[512.0, 256.0, 100.0, 50.0]]), (1024, 1024), (256, 256))
        tensor([[128.0000,  64.0000,  25.0000,  12.5000]])
    """
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"Expected `boxes` of shape (N, 4), got {tuple(boxes.shape)}.")
    (from_h, from_w), (to_h, to_w) = from_size, to_size
    scale = torch.tensor([to_w / from_w, to_h / from_h, to_w / from_w, to_h / from_h])
    return boxes.float() * scale
