"""SIIM-ACR Pneumothorax Segmentation: ``train-rle.csv``.

The layout (the SIIM-ACR challenge's data page; Zawacki et al. 2019, SIIM): ``ImageId,
EncodedPixels``, one row per connected pneumothorax component of an image and one row ``-1`` for
an image without one; the masks are run-length encoded on 1024 x 1024 (``cam_boxes_iobb``'s SIIM
reader decodes them). ``ImageId`` is the DICOM SOP Instance UID of an image drawn from
ChestX-ray14; the set gives no patient id, so splits and intervals are per image. The release
nests the images as ``dicom-images-train/<study>/<series>/<ImageId>.dcm``: a table's path is the
file's name, found anywhere under the root.
"""

from __future__ import annotations

import os

import numpy as np

from cxr14_data.layouts.table import LabelTable
from cxr14_data.metadata import MetadataError, checked_rows, locate

SIIM_CLASSES = ("Pneumothorax",)
SOURCE = (
    "SIIM-ACR Pneumothorax Segmentation (2019); "
    "https://www.kaggle.com/competitions/siim-acr-pneumothorax-segmentation/data"
)


def read_siim(path: str | os.PathLike) -> LabelTable:
    """The images of ``train-rle.csv`` with their label (a component, or ``-1``).

    Args:
        path: the CSV (may be ``.gz``) or the folder that holds it.

    Returns:
        One row per image: ``Pneumothorax`` 1 where it has a component, else 0.

    Raises:
        MetadataError: naming the file and line of an image listed both with ``-1`` and with a
            component, or a row without an ``ImageId``.
    """
    file = locate(path, ("train-rle.csv",))
    positive: dict[str, bool] = {}
    for line, index, row in checked_rows(file, ("ImageId", "EncodedPixels")):
        image = row[index["ImageId"]].strip()
        runs = row[index["EncodedPixels"]].strip() if index["EncodedPixels"] < len(row) else ""
        if not image or not runs:
            raise MetadataError(f"{file}, line {line}: no ImageId or EncodedPixels.")
        has = runs != "-1"
        if image in positive and positive[image] != has:
            raise MetadataError(f"{file}, line {line}: {image} is listed as -1 and with a mask.")
        positive[image] = has
    ids = list(positive)
    return LabelTable(
        layout="siim",
        classes=SIIM_CLASSES,
        image_ids=ids,
        paths=[f"{i}.dcm" for i in ids],  # nested by study and series: found by name
        patients=None,
        views=[""] * len(ids),
        labels=np.asarray([[float(positive[i])] for i in ids], dtype=np.float32).reshape(-1, 1),
        splits=None,
        source=SOURCE,
    )
