"""A binary mask as the compressed RLE that pycocotools writes (``mask.encode`` then
``counts.decode()``), the form CheXlocalize's segmentation files hold: runs of the mask read
column by column, starting with a run of zeros, each count after the second written as the
difference to the count two before it, in 5-bit groups offset into printable characters
(pycocotools ``maskApi.c`` ``rleToString``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def run_counts(mask: np.ndarray) -> list[int]:
    """The column-major run lengths of ``mask``, the first a run of zeros (possibly 0 long).

    Examples:
        >>> run_counts(np.array([[0, 1], [0, 1]]))
        [2, 2]
    """
    flat = np.asarray(mask).astype(bool).T.reshape(-1)
    edges = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    counts = np.diff(bounds).tolist()
    return [0, *counts] if flat.size and flat[0] else counts


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """``{"size": [h, w], "counts": str}`` of a 2-D binary mask.

    Examples:
        >>> encode_rle(np.zeros((3, 4), np.uint8))
        {'size': [3, 4], 'counts': '<'}
        >>> encode_rle(np.ones((2, 2), np.uint8))["counts"]
        '04'
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"Expected a 2-D mask, got shape {mask.shape}.")
    counts = run_counts(mask)
    text = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            chunk = value & 0x1F
            value >>= 5
            more = value != -1 if chunk & 0x10 else value != 0
            text.append(chr(chunk + (0x20 if more else 0) + 48))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": "".join(text)}
