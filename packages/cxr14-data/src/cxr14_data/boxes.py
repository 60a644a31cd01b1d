"""Box conventions of ChestX-ray14 and conversions between image sizes.

Convention: ``xywh`` in pixels, ``(x, y)`` top-left, continuous coordinates (pixel ``(i, j)``
covers ``[i, i + 1) x [j, j + 1)``), so a resize from ``(H, W)`` to ``(H', W')`` scales ``x`` and
``w`` by ``W' / W`` and ``y`` and ``h`` by ``H' / H``.

``BBox_List_2017.csv`` gives its boxes in NIH's ``1024 x 1024`` frame (:data:`NIH_BOX_FRAME`),
**whatever size the PNGs were saved at**: the widely used resized copies of the data set (224,
256, 512 px) keep the original CSV. A loader therefore scales every box from the frame to the
image as read, never from the stored PNG's own size. (``OriginalImage[Width, Height]`` in
Data_Entry is the DICOM's size, not the boxes' frame either.)
"""

from __future__ import annotations

import math

import torch

#: ``(H, W)`` of the frame that BBox_List_2017.csv's coordinates refer to.
NIH_BOX_FRAME: tuple[int, int] = (1024, 1024)


def rescale_boxes(
    boxes: torch.Tensor, from_size: tuple[int, int], to_size: tuple[int, int]
) -> torch.Tensor:
    """Rescale ``(N, 4)`` ``xywh`` boxes from an image of ``(H, W)`` to one of ``(H', W')``.

    Examples:
        >>> rescale_boxes(torch.tensor([[512.0, 256.0, 100.0, 50.0]]), (1024, 1024), (256, 256))
        tensor([[128.0000,  64.0000,  25.0000,  12.5000]])
    """
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"Expected `boxes` of shape (N, 4), got {tuple(boxes.shape)}.")
    check_frame(from_size, "from_size")
    check_frame(to_size, "to_size")
    (from_h, from_w), (to_h, to_w) = from_size, to_size
    scale = torch.tensor([to_w / from_w, to_h / from_h, to_w / from_w, to_h / from_h])
    return boxes.float() * scale


def check_frame(frame: tuple[int, int], name: str = "box_frame") -> tuple[int, int]:
    """``frame`` as an ``(H, W)`` pair of positive sizes, or a ``ValueError`` naming ``name``."""
    try:
        height, width = (float(v) for v in frame)
    except (TypeError, ValueError):
        raise ValueError(f"Expected `{name}` as (height, width), got {frame!r}.") from None
    if not (math.isfinite(height) and math.isfinite(width) and height > 0 and width > 0):
        raise ValueError(f"Expected `{name}` with positive finite sizes, got {frame!r}.")
    return frame[0], frame[1]


def box_in_frame(xywh: tuple[float, float, float, float], frame: tuple[int, int]) -> bool:
    """Whether an ``xywh`` box has a positive size and lies inside a frame of ``(H, W)``.

    Examples:
        >>> box_in_frame((900.0, 10.0, 100.0, 20.0), NIH_BOX_FRAME)
        True
        >>> box_in_frame((900.0, 10.0, 200.0, 20.0), NIH_BOX_FRAME)  # 76 px beyond the right edge
        False
    """
    x, y, w, h = xywh
    height, width = frame
    values = (x, y, w, h)
    return (
        all(math.isfinite(v) for v in values)
        and w > 0
        and h > 0
        and x >= 0
        and y >= 0
        and x + w <= width
        and y + h <= height
    )
