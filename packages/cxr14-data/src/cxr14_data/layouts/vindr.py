"""VinDr-CXR: the Kaggle release's ``train.csv`` (one row per reader's finding) and the
PhysioNet release's ``image_labels_{train,test}.csv`` (one row per reader's image labels).

The layout (Nguyen et al. 2022, "VinDr-CXR: An open dataset of chest X-rays with radiologist's
annotations", Scientific Data; the Kaggle "VinBigData Chest X-ray Abnormalities Detection" data
page): Kaggle's ``train.csv`` has ``image_id,class_name,class_id,rad_id,x_min,y_min,x_max,y_max``,
classes 0-13 the findings with boxes and 14 ``No finding``; three readers (``rad_id``) read each
training image. Images are ``train/<image_id>.dicom``. The set gives no patient id: splits and
intervals are per image. An image-level label folds the readers by a stated rule:
``"any"`` (a reader marked it) or ``"majority"`` (more than half of the image's readers did).
Boxes are read by ``cam_boxes_iobb``'s VinDr reader.
"""

from __future__ import annotations

import os
from collections import defaultdict
from enum import StrEnum
from pathlib import Path

import numpy as np

from cxr14_data.layouts.table import LabelTable
from cxr14_data.metadata import MetadataError, checked_rows, locate

#: The Kaggle release's classes by ``class_id``.
VINDR_CLASSES = (
    "Aortic enlargement",
    "Atelectasis",
    "Calcification",
    "Cardiomegaly",
    "Consolidation",
    "ILD",
    "Infiltration",
    "Lung Opacity",
    "Nodule/Mass",
    "Other lesion",
    "Pleural effusion",
    "Pleural thickening",
    "Pneumothorax",
    "Pulmonary fibrosis",
    "No finding",
)
SOURCE = (
    "Nguyen et al. 2022 (Scientific Data); "
    "https://www.kaggle.com/competitions/vinbigdata-chest-xray-abnormalities-detection/data"
)


class ReaderRule(StrEnum):
    """How several readers' labels of one image become one."""

    ANY = "any"
    MAJORITY = "majority"


def read_vindr_kaggle(
    path: str | os.PathLike, rule: ReaderRule | str = ReaderRule.MAJORITY
) -> LabelTable:
    """The images of the Kaggle ``train.csv``, each class folded over the readers by ``rule``.

    Args:
        path: the CSV (may be ``.gz``) or the folder that holds it.
        rule: ``"majority"`` (default) or ``"any"``.

    Returns:
        One row per image, the 15 classes 1 or 0.

    Raises:
        MetadataError: naming the file and line of a ``class_id`` outside 0-14, a name that is
            not its id's, or a row without a reader.
    """
    rule = ReaderRule(rule)
    file = locate(path, ("train.csv",))
    readers: dict[str, set[str]] = defaultdict(set)
    marked: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    columns = ("image_id", "class_name", "class_id", "rad_id")
    for line, index, row in checked_rows(file, columns):
        image, name, class_id, reader = (row[index[c]].strip() for c in columns)
        where = f"{file}, line {line}"
        if not class_id.isdigit() or int(class_id) >= len(VINDR_CLASSES):
            raise MetadataError(f"{where}: class_id {class_id!r} is not 0-14.")
        if VINDR_CLASSES[int(class_id)] != name:
            raise MetadataError(
                f"{where}: class_name {name!r} is not class {class_id} "
                f"({VINDR_CLASSES[int(class_id)]!r})."
            )
        if not image or not reader:
            raise MetadataError(f"{where}: no image_id or rad_id.")
        readers[image].add(reader)
        marked[image][int(class_id)].add(reader)
    ids = list(readers)
    labels = np.zeros((len(ids), len(VINDR_CLASSES)), dtype=np.float32)
    for row, image in enumerate(ids):
        for class_id, by in marked[image].items():
            share = len(by) / len(readers[image])
            labels[row, class_id] = share > 0.5 if rule is ReaderRule.MAJORITY else 1.0
    return LabelTable(
        layout="vindr",
        classes=VINDR_CLASSES,
        image_ids=ids,
        paths=[str(Path("train") / f"{i}.dicom") for i in ids],
        patients=None,
        views=[""] * len(ids),
        labels=labels,
        splits=["train"] * len(ids),
        source=SOURCE,
    )
