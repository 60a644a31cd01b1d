"""The annotation readers' error and the RLE type, below both ``annotations`` and ``rle`` (each
imports them, and ``annotations`` imports ``rle``)."""

from __future__ import annotations

from typing import Any

#: A COCO run-length encoding: ``{"size": [h, w], "counts": bytes}``.
RLE = dict[str, Any]


class AnnotationError(ValueError):
    """An annotation file (or the neutral form built from it) is malformed; the message names the
    file and, where there is one, the line or entry."""
