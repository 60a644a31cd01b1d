"""CheXlocalize's images and labels (Saporta et al. 2022, "Benchmarking saliency methods for chest
X-ray interpretation", Nature Machine Intelligence; the download's layout as
rajpurkarlab/cheXlocalize's ``README.md`` lists it): ``CheXpert/val/`` and ``CheXpert/test/`` hold
the CheXpert validation and test images, ``CheXpert/val_labels.csv`` and ``test_labels.csv`` their
ground-truth labels in CheXpert's CSV form (``Path`` and the 14 observations, 0 or 1), and
``CheXlocalize/gt_segmentations_{val,test}.json`` the radiologists' segmentations of ten
pathologies, keyed by CXR id (``patient64541_study1_view1_frontal``), which
``cam_boxes_iobb``'s CheXlocalize reader reads.

The images are found under ``CheXpert/<val|test>/<patient>/<study>/<view>.jpg`` whatever folder
the CSV's ``Path`` begins with (the validation CSV's begins ``CheXpert-v1.0/valid/``); ids are the
CXR ids the segmentations use; labels are the ten pathologies', CheXpert's ``Lung Opacity`` read
as CheXlocalize's ``Airspace Opacity``; the split is the one the file names.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cxr14_data.layouts.chexpert import CHEXPERT_CLASSES, _read_one
from cxr14_data.layouts.table import LabelTable
from cxr14_data.metadata import locate

#: CheXlocalize's ``eval_constants.LOCALIZATION_TASKS``, in that order.
CHEXLOCALIZE_CLASSES = (
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Lesion",
    "Airspace Opacity",
    "Edema",
    "Consolidation",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Support Devices",
)
#: CheXlocalize's name for the CheXpert observation of the same concept.
RENAMED = {"Airspace Opacity": "Lung Opacity"}
LABEL_FILES = {"val": "val_labels.csv", "test": "test_labels.csv"}
SOURCE = "Saporta et al. 2022 (Nature Machine Intelligence); github.com/rajpurkarlab/cheXlocalize"


def read_chexlocalize(root: str | os.PathLike) -> LabelTable:
    """CheXlocalize's validation and test images with the ten pathologies' labels.

    Args:
        root: the download's folder (``CheXpert/`` and ``CheXlocalize/`` inside it).

    Returns:
        One row per image: id the CXR id, path under ``CheXpert/<split>/``, patient, view, the
        ten labels (0/1), split ``"val"`` or ``"test"``.

    Raises:
        MetadataError: naming the file and line of a bad row, or a missing file.

    Examples:
        >>> import tempfile
        >>> root = Path(tempfile.mkdtemp()); (root / "CheXpert").mkdir()
        >>> header = "Path,Sex,Age,Frontal/Lateral,AP/PA," + ",".join(CHEXPERT_CLASSES)
        >>> row = "CheXpert-v1.0/valid/patient64541/study1/view1_frontal.jpg,Male,73,Frontal,AP,"
        >>> _ = (root / "CheXpert" / "val_labels.csv").write_text(header + "\\n" + row + "0," * 3
        ...     + "1," + "0," * 9 + "0")
        >>> test = row.replace("CheXpert-v1.0/valid/patient64541", "test/patient64741")
        >>> _ = (root / "CheXpert" / "test_labels.csv").write_text(header + "\\n" + test
        ...     + "0," * 13 + "1")
        >>> table = read_chexlocalize(root)
        >>> table.image_ids[1], table.splits
        ('patient64741_study1_view1_frontal', ['val', 'test'])
        >>> table.paths[0]
        'CheXpert/val/patient64541/study1/view1_frontal.jpg'
        >>> float(table.labels[0, table.classes.index("Airspace Opacity")])
        1.0
    """
    root = Path(root)
    columns = [CHEXPERT_CLASSES.index(RENAMED.get(c, c)) for c in CHEXLOCALIZE_CLASSES]
    ids, paths, patients, views, splits, labels = [], [], [], [], [], []
    for split, name in LABEL_FILES.items():
        file = locate(root / "CheXpert", (name,))
        images, file_patients, file_views, file_labels, _ = _read_one(file)
        for image, patient, view, row in zip(
            images, file_patients, file_views, file_labels, strict=True
        ):
            parts = Path(image).parts
            study, view_file = parts[-2], parts[-1]
            ids.append(f"{patient}_{study}_{Path(view_file).stem}")
            paths.append(f"CheXpert/{split}/{patient}/{study}/{view_file}")
            patients.append(patient)
            views.append(view)
            splits.append(split)
            labels.append(row[columns])
    return LabelTable(
        layout="chexlocalize",
        classes=CHEXLOCALIZE_CLASSES,
        image_ids=ids,
        paths=paths,
        patients=patients,
        views=views,
        labels=np.asarray(labels, dtype=np.float32).reshape(-1, len(CHEXLOCALIZE_CLASSES)),
        splits=splits,
        source=SOURCE,
    )
