"""A prediction on a DICOM image, written back as DICOM (``highdicom``): a Structured Report of the
findings and boxes, and a Segmentation of the heatmaps, both referencing the source image.

- ``<name>_sr.dcm``: a Structured Report of the findings and boxes
  (:mod:`cxr_paper.deploy.dicom_sr`).
- ``<name>_heatmaps.dcm``: a Segmentation of the heatmaps (:mod:`cxr_paper.deploy.dicom_seg`).

What both share (the source they reference, coding): :mod:`cxr_paper.deploy.dicom_common`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from cxr_paper.deploy.dicom_common import read_source
from cxr_paper.deploy.dicom_seg import heatmap_segmentation
from cxr_paper.deploy.dicom_sr import structured_report
from cxr_paper.files.atomic import atomic_write


def write_dicom_outputs(
    path: Path,
    result: Mapping[str, Any],
    heatmaps: Mapping[str, np.ndarray],
    model: Any,
    stem: Path,
) -> dict[str, Path]:
    """Write ``<stem>_sr.dcm`` and (if any class was predicted) ``<stem>_heatmaps.dcm``.

    Args:
        path: the source DICOM image the outputs reference.
        result: ``predict.py``'s result for it (``probabilities``, ``predicted``, ``boxes``).
        heatmaps: per predicted class, its heatmap ``(Rows, Columns)`` in [0, 1].
        model: the model that predicted (its ``architecture`` and ``classes``).
        stem: the outputs' path without the suffix.

    Returns:
        The files written, by kind (``"sr"``, ``"heatmaps"``).

    Raises:
        DicomOutputError: the source cannot be referenced, or a heatmap is not its size.
    """
    source = read_source(path)
    written = {"sr": stem.with_name(f"{stem.name}_sr.dcm")}
    report = structured_report(source, result, model)
    atomic_write(written["sr"], lambda temporary: report.save_as(temporary))
    if heatmaps:
        written["heatmaps"] = stem.with_name(f"{stem.name}_heatmaps.dcm")
        segmentation = heatmap_segmentation(source, heatmaps, model)
        atomic_write(written["heatmaps"], lambda temporary: segmentation.save_as(temporary))
    return written
