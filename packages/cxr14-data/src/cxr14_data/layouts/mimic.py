"""MIMIC-CXR-JPG (v2.0.0 / v2.1.0 on PhysioNet): metadata, report labels and the official split.

The layout (Johnson et al. 2019, "MIMIC-CXR-JPG, a large publicly available database of labeled
chest radiographs", arXiv:1901.07042; the PhysioNet project page, "Files" and "Data
Description"):

- ``mimic-cxr-2.0.0-metadata.csv[.gz]``: one row per image: ``dicom_id``, ``subject_id``,
  ``study_id``, ``ViewPosition`` (``PA``, ``AP``, ``LATERAL``, ``LL``, ... or blank), ...;
- ``mimic-cxr-2.0.0-chexpert.csv[.gz]`` or ``-negbio.csv[.gz]``: one row per **study**
  (``subject_id``, ``study_id``) with CheXpert's 14 observations, ``1.0``, ``0.0``, ``-1.0`` or
  blank, as CheXpert's labeler (or NegBio) read the report;
- ``mimic-cxr-2.0.0-split.csv[.gz]``: ``dicom_id``, ``study_id``, ``subject_id``, ``split``
  (``train``, ``validate``, ``test``);
- images: ``files/p<first two digits of subject_id>/p<subject_id>/s<study_id>/<dicom_id>.jpg``.

An image takes its study's labels; an image whose study has no label row is left out and
counted in the table's notes (never silently).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from cxr14_data.layouts.chexpert import CHEXPERT_CLASSES
from cxr14_data.layouts.table import LabelTable
from cxr14_data.metadata import MetadataError, checked_rows, locate

METADATA = "mimic-cxr-2.0.0-metadata.csv"
SPLIT = "mimic-cxr-2.0.0-split.csv"
LABELERS = {"chexpert": "mimic-cxr-2.0.0-chexpert.csv", "negbio": "mimic-cxr-2.0.0-negbio.csv"}
SOURCE = "Johnson et al. 2019 (arXiv:1901.07042); https://physionet.org/content/mimic-cxr-jpg/"
_VALUES = {"1.0": 1.0, "1": 1.0, "0.0": 0.0, "0": 0.0, "-1.0": -1.0, "-1": -1.0, "": math.nan}


def read_mimic(root: str | os.PathLike, labeler: str = "chexpert") -> LabelTable:
    """The images of a MIMIC-CXR-JPG folder with their study's labels and official split.

    Args:
        root: the folder holding the three CSVs (each may be ``.gz``) and ``files/``.
        labeler: ``"chexpert"`` or ``"negbio"``: which label file.

    Returns:
        One row per image of the metadata whose study has labels; patients are subjects.

    Raises:
        MetadataError: naming the file and line of a bad value, an image without a split, or
            an unknown labeler.
    """
    if labeler not in LABELERS:
        raise MetadataError(f"labeler {labeler!r}: expected one of {sorted(LABELERS)}.")
    root = Path(root)
    labels = _study_labels(locate(root, (LABELERS[labeler],)))
    splits = _splits(locate(root, (SPLIT,)))
    file = locate(root, (METADATA,))
    ids, paths, patients, views, rows = [], [], [], [], []
    unlabelled = 0
    columns = ("dicom_id", "subject_id", "study_id", "ViewPosition")
    for line, index, row in checked_rows(file, columns):
        dicom_id, subject, study, view = (
            row[index[c]].strip() if index[c] < len(row) else "" for c in columns
        )
        where = f"{file}, line {line}"
        if not (dicom_id and subject.isdigit() and study.isdigit()):
            raise MetadataError(
                f"{where}: dicom_id, subject_id or study_id is missing or not a number."
            )
        if dicom_id not in splits:
            raise MetadataError(f"{where}: {dicom_id} has no row in {SPLIT}.")
        if study not in labels:
            unlabelled += 1
            continue
        ids.append(dicom_id)
        paths.append(f"files/p{subject[:2]}/p{subject}/s{study}/{dicom_id}.jpg")
        patients.append(subject)
        views.append(view.upper())
        rows.append(labels[study])
    notes = (
        (f"{unlabelled} images left out: their study has no row in {LABELERS[labeler]}",)
        if unlabelled
        else ()
    )
    return LabelTable(
        layout="mimic",
        classes=CHEXPERT_CLASSES,
        image_ids=ids,
        paths=paths,
        patients=patients,
        views=views,
        labels=np.asarray(rows, dtype=np.float32).reshape(-1, len(CHEXPERT_CLASSES)),
        splits=[splits[i] for i in ids],
        source=SOURCE,
        notes=notes,
    )


def _study_labels(file: Path) -> dict[str, list[float]]:
    labels: dict[str, list[float]] = {}
    for line, index, row in checked_rows(file, ("study_id", *CHEXPERT_CLASSES)):
        study = row[index["study_id"]].strip()
        values = []
        for name in CHEXPERT_CLASSES:
            text = row[index[name]].strip() if index[name] < len(row) else ""
            if text not in _VALUES:
                raise MetadataError(
                    f"{file}, line {line}: column {name!r} is {text!r}, "
                    "expected 1.0, 0.0, -1.0 or blank."
                )
            values.append(_VALUES[text])
        if study in labels:
            raise MetadataError(f"{file}, line {line}: study {study} is listed twice.")
        labels[study] = values
    return labels


def _splits(file: Path) -> dict[str, str]:
    splits: dict[str, str] = {}
    for line, index, row in checked_rows(file, ("dicom_id", "split")):
        dicom_id, split = row[index["dicom_id"]].strip(), row[index["split"]].strip()
        if split not in ("train", "validate", "test"):
            raise MetadataError(
                f"{file}, line {line}: split {split!r} is not train, validate or test."
            )
        splits[dicom_id] = split
    return splits
