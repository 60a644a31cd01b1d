"""Readers of published localization ground truth into the neutral form
(:class:`~cam_boxes_iobb.annotations.Annotations`), and the COCO JSON writer.

``read_annotations(path, format)`` dispatches by name (:data:`FORMATS`); each reader's module
docstring cites where its format is defined.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from cam_boxes_iobb.annotations import AnnotationError, Annotations
from cam_boxes_iobb.formats.chestx_det import CHESTX_DET_CLASSES, read_chestx_det
from cam_boxes_iobb.formats.chexlocalize import CHEXLOCALIZE_CLASSES, read_chexlocalize
from cam_boxes_iobb.formats.coco import from_coco, read_coco, to_coco, write_coco
from cam_boxes_iobb.formats.nih import NIH_CLASSES, read_nih
from cam_boxes_iobb.formats.rsna import RSNA_CLASSES, read_rsna
from cam_boxes_iobb.formats.siim import SIIM_CLASSES, read_siim
from cam_boxes_iobb.formats.vindr import VINDR_CLASSES, read_vindr

#: format name -> reader; every reader takes the file (or folder) first.
FORMATS: dict[str, Callable[..., Annotations]] = {
    "coco": read_coco,
    "nih": read_nih,
    "vindr": read_vindr,
    "chestx-det": read_chestx_det,
    "rsna": read_rsna,
    "chexlocalize": read_chexlocalize,
    "siim": read_siim,
}


def read_annotations(path: str | os.PathLike, format: str = "coco", **options: Any) -> Annotations:
    """Read ``path`` with the reader of ``format`` (one of :data:`FORMATS`); ``options`` go to
    that reader (e.g. ``sizes=`` for VinDr-CXR)."""
    if format not in FORMATS:
        raise AnnotationError(
            f"Unknown annotation format {format!r}; expected one of {sorted(FORMATS)}."
        )
    try:
        return FORMATS[format](path, **options)
    except TypeError as error:
        raise AnnotationError(
            f"Options {sorted(options)} do not fit the {format!r} reader ({error})."
        ) from None


__all__ = [
    "CHESTX_DET_CLASSES",
    "CHEXLOCALIZE_CLASSES",
    "FORMATS",
    "NIH_CLASSES",
    "RSNA_CLASSES",
    "SIIM_CLASSES",
    "VINDR_CLASSES",
    "from_coco",
    "read_annotations",
    "read_chestx_det",
    "read_chexlocalize",
    "read_coco",
    "read_nih",
    "read_rsna",
    "read_siim",
    "read_vindr",
    "to_coco",
    "write_coco",
]
