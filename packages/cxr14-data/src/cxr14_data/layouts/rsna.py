"""RSNA Pneumonia Detection Challenge (Kaggle, stage 2): ``stage_2_train_labels.csv``.

The layout (Shih et al. 2019, "Augmenting the NIH chest radiograph dataset with expert
annotations of possible pneumonia", Radiology: AI; the competition's data page): one row per box,
``patientId,x,y,width,height,Target``, and one row with empty coordinates and ``Target`` 0 for an
image without a box; images are ``stage_2_train_images/<patientId>.dcm``. ``patientId`` names an
image, not a patient (the set gives no patient id), so splits and intervals are per image.
``stage_2_detailed_class_info.csv`` (``patientId,class``) sorts the images into ``Lung Opacity``,
``No Lung Opacity / Not Normal`` and ``Normal``; where it lies beside the labels, it is read too:
an image whose class says otherwise than its ``Target`` is refused (naming the line), and how many
images are ``Normal`` and ``Not Normal`` goes into the table's notes (the run's label stays
``Target``, the set's one class). The images are drawn from ChestX-ray14: a model
trained on NIH may have seen them. Boxes are read by ``cam_boxes_iobb``'s RSNA reader.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cxr14_data.layouts.table import LabelTable
from cxr14_data.metadata import MetadataError, checked_rows, locate

RSNA_CLASSES = ("Lung Opacity",)
LABELS_FILE = "stage_2_train_labels.csv"
IMAGES = "stage_2_train_images"
SOURCE = (
    "Shih et al. 2019 (Radiology: AI); "
    "https://www.kaggle.com/competitions/rsna-pneumonia-detection-challenge/data"
)


def read_rsna(path: str | os.PathLike, views: dict[str, str] | None = None) -> LabelTable:
    """The images of ``stage_2_train_labels.csv`` with their image-level label.

    Args:
        path: the CSV (may be ``.gz``) or the folder that holds it.
        views: per ``patientId`` its DICOM ``ViewPosition`` (``PA``/``AP``), where known
            (:func:`cxr14_data.read_dicom_header` reads it); others are ``""``.

    Returns:
        One row per image: ``Lung Opacity`` 1 where ``Target`` is 1, else 0.

    Raises:
        MetadataError: naming the file and line of a ``Target`` other than 0 or 1, or of an
            image whose rows disagree on it.
    """
    file = locate(path, (LABELS_FILE,))
    target: dict[str, int] = {}
    for line, index, row in checked_rows(file, ("patientId", "Target")):
        image = row[index["patientId"]].strip()
        value = row[index["Target"]].strip() if index["Target"] < len(row) else ""
        if value not in ("0", "1") or not image:
            raise MetadataError(
                f"{file}, line {line}: Target {value!r} of {image!r} is not 0 or 1."
            )
        if target.setdefault(image, int(value)) != int(value):
            raise MetadataError(f"{file}, line {line}: {image} is listed with Target 0 and 1.")
    ids = list(target)
    notes = _detailed_classes(file.parent, target)
    views = views or {}
    return LabelTable(
        layout="rsna",
        classes=RSNA_CLASSES,
        image_ids=ids,
        paths=[str(Path(IMAGES) / f"{i}.dcm") for i in ids],
        patients=None,
        views=[views.get(i, "").upper() for i in ids],
        labels=np.asarray([[target[i]] for i in ids], dtype=np.float32).reshape(-1, 1),
        splits=None,
        source=SOURCE,
        notes=notes,
    )


DETAILED_FILE = "stage_2_detailed_class_info.csv"
DETAILED_CLASSES = ("Lung Opacity", "No Lung Opacity / Not Normal", "Normal")


def _detailed_classes(folder: Path, target: dict[str, int]) -> tuple[str, ...]:
    """Check ``stage_2_detailed_class_info.csv`` (when present) against the labels' ``Target``;
    the counts of its classes as a note."""
    if not any((folder / name).is_file() for name in (DETAILED_FILE, DETAILED_FILE + ".gz")):
        return ()
    file = locate(folder, (DETAILED_FILE,))
    found: dict[str, str] = {}
    for line, index, row in checked_rows(file, ("patientId", "class")):
        image = row[index["patientId"]].strip()
        name = row[index["class"]].strip() if index["class"] < len(row) else ""
        where = f"{file}, line {line}"
        if name not in DETAILED_CLASSES:
            raise MetadataError(f"{where}: class {name!r} is not one of {list(DETAILED_CLASSES)}.")
        if image not in target or (name == "Lung Opacity") != bool(target[image]):
            label = "no row" if image not in target else f"Target {target[image]}"
            raise MetadataError(f"{where}: {image} is {name!r} but has {label} in the labels.")
        found[image] = name
    counts = {name: sum(1 for v in found.values() if v == name) for name in DETAILED_CLASSES}
    return (
        f"{DETAILED_FILE}: {counts['Normal']} images Normal, "
        f"{counts['No Lung Opacity / Not Normal']} No Lung Opacity / Not Normal, "
        f"{counts['Lung Opacity']} Lung Opacity",
    )
