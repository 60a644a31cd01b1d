"""Masks as COCO run-length encodings (pycocotools' RLE: ``{"size": [h, w], "counts": bytes}``,
column-major), checked against their image's frame.

pycocotools is imported here only, and its numpy-2 ``copy=`` DeprecationWarning (raised inside
its decoder, harmless) is silenced here only.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from cam_boxes_iobb._annotation_error import RLE, AnnotationError


def _coco():
    from pycocotools import mask as mask_utils

    return mask_utils


def decode(rle: RLE) -> np.ndarray:
    """The ``(h, w)`` uint8 mask of an RLE."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pycocotools")
        return np.ascontiguousarray(_coco().decode(rle))


def encode(mask: np.ndarray) -> RLE:
    """The RLE of a ``(h, w)`` mask (nonzero = inside).

    Examples:
        >>> mask = np.zeros((4, 5), np.uint8); mask[1:3, 2:4] = 1
        >>> rle = encode(mask)
        >>> rle["size"], int(area(rle)), bool((decode(rle) == mask).all())
        ([4, 5], 4, True)
    """
    return _coco().encode(np.asfortranarray(mask.astype(np.uint8) > 0, dtype=np.uint8))


def area(rle: RLE) -> int:
    return int(_coco().area(rle))


def merge(first: RLE, second: RLE) -> RLE:
    """The union of two masks of one frame."""
    return _coco().merge([first, second])


def bbox(rle: RLE) -> list[float]:
    """The mask's extent ``xywh``."""
    return [float(v) for v in _coco().toBbox(rle)]


def from_segmentation(segmentation: Any, height: int, width: int, where: str) -> RLE:
    """An RLE (compressed or uncompressed) or a list of polygons ``[x0, y0, x1, y1, ...]`` (or
    ``[[x, y], ...]``) as one checked RLE of the ``height`` x ``width`` frame."""
    coco = _coco()
    try:
        if isinstance(segmentation, Mapping):
            size = [int(s) for s in segmentation["size"]]
            counts = segmentation["counts"]
            if size != [height, width]:
                raise AnnotationError(
                    f"{where}: RLE size {size} is not the image's {height} x {width}."
                )
            if isinstance(counts, list):  # uncompressed
                values = [int(c) for c in counts]
                if sum(values) != height * width or min(values, default=0) < 0:
                    raise AnnotationError(f"{where}: RLE counts do not cover {height} x {width}.")
                return coco.frPyObjects({"size": size, "counts": values}, height, width)
            if not isinstance(counts, str | bytes):
                raise AnnotationError(f"{where}: RLE counts must be a string or a list.")
            rle = {"size": size, "counts": counts.encode() if isinstance(counts, str) else counts}
            # pycocotools reads compressed counts without bounds checks: re-encode what it
            # decodes, so that a damaged string cannot describe more pixels than the frame
            decoded = decode(rle)
            if decoded.shape != (height, width):
                raise AnnotationError(f"{where}: RLE decodes to {decoded.shape}.")
            return encode(decoded)
        polygons = [np.asarray(p, dtype=np.float64).ravel() for p in segmentation]
        if not polygons or any(
            len(p) < 6 or len(p) % 2 or not np.isfinite(p).all() for p in polygons
        ):
            raise AnnotationError(f"{where}: a polygon needs 3 or more finite (x, y) points.")
        return coco.merge(coco.frPyObjects([p.tolist() for p in polygons], height, width))
    except AnnotationError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, OverflowError) as error:
        raise AnnotationError(f"{where}: not an RLE or polygon segmentation ({error}).") from None
