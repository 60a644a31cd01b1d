"""VinDr-CXR: the Kaggle release's ``train.csv`` (one row per reader's finding) and the
PhysioNet release's ``image_labels_{train,test}.csv`` (one row per reader's image labels).

The PhysioNet release (Nguyen et al. 2022, section "Data Records"; https://physionet.org/content/
vindr-cxr/1.0.0/): ``annotations/image_labels_{train,test}.csv`` have ``image_id``, ``rad_ID``
(``rad_id`` accepted; a file without it holds one consensus row per image) and one 0/1 column per
label, 28 in the release (22 local findings, 6 diagnoses, ``No finding``); training images were
read by three readers, test images by a consensus of five. Images are
``{train,test}/<image_id>.dicom``, the split the set publishes.

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


PHYSIONET_SOURCE = (
    "Nguyen et al. 2022 (Scientific Data); https://physionet.org/content/vindr-cxr/1.0.0/"
)
PHYSIONET_FILES = {"train": "image_labels_train.csv", "test": "image_labels_test.csv"}


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


def read_vindr_physionet(
    root: str | os.PathLike, rule: ReaderRule | str = ReaderRule.MAJORITY
) -> LabelTable:
    """The images of the PhysioNet release, each label folded over the image's readers.

    Args:
        root: the release's folder (``annotations/`` inside it, or the CSVs themselves).
        rule: ``"majority"`` (default) or ``"any"``.

    Returns:
        One row per image, the classes as the header names them, 1 or 0; the split
        ``"train"`` or ``"test"`` as published.

    Raises:
        MetadataError: naming the file and line of a label other than 0 or 1, a row without an
            image or reader, or test and train files whose label columns differ.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "image_labels_train.csv").write_text(
        ...     "image_id,rad_ID,Nodule/Mass,No finding\\na,R1,1,0\\na,R2,0,1\\na,R3,1,0\\n")
        >>> _ = (folder / "image_labels_test.csv").write_text(
        ...     "image_id,rad_ID,Nodule/Mass,No finding\\nb,R8,0,1\\n")
        >>> table = read_vindr_physionet(folder)
        >>> table.classes, table.labels.tolist(), table.splits, table.paths[1]
        (('Nodule/Mass', 'No finding'), [[1.0, 0.0], [0.0, 1.0]], ['train', 'test'], 'test/b.dicom')
    """
    rule = ReaderRule(rule)
    root = Path(root)
    folder = root / "annotations" if (root / "annotations").is_dir() else root
    classes: tuple[str, ...] | None = None
    ids: list[str] = []
    splits: list[str] = []
    rows: list[list[float]] = []
    for split, name in PHYSIONET_FILES.items():
        file = locate(folder, (name,))
        votes: dict[str, list[np.ndarray]] = defaultdict(list)
        for number, (line, index, row) in enumerate(checked_rows(file, ("image_id",))):
            reader_column = index.get("rad_ID", index.get("rad_id"))  # None: one consensus row
            if number == 0:
                names = tuple(c for c in sorted(index, key=index.get) if c not in _ID_COLUMNS)
                if classes is not None and names != classes:
                    raise MetadataError(
                        f"{file}: its label columns are not those of the train file."
                    )
                classes = names
            cells = [row[i].strip() if i < len(row) else "" for i in range(len(index))]
            where = f"{file}, line {line}"
            if not cells[index["image_id"]] or (
                reader_column is not None and not cells[reader_column]
            ):
                raise MetadataError(f"{where}: no image_id or rad_ID.")
            values = [cells[index[c]] for c in names]
            wrong = [(c, v) for c, v in zip(names, values, strict=True) if v not in ("0", "1")]
            if wrong:
                raise MetadataError(
                    f"{where}: label {wrong[0][0]!r} is {wrong[0][1]!r}, not 0 or 1."
                )
            votes[cells[index["image_id"]]].append(np.asarray(values, dtype=np.float32))
        for image, marks in votes.items():
            share = np.mean(marks, axis=0)
            rows.append((share > 0.5 if rule is ReaderRule.MAJORITY else share > 0).astype(float))
            ids.append(image)
            splits.append(split)
    if classes is None:
        raise MetadataError(f"{folder}: the image_labels files hold no header.")
    if len(set(ids)) != len(ids):
        raise MetadataError(f"{folder}: an image is listed in both the train and the test file.")
    return LabelTable(
        layout="vindr",
        classes=classes,
        image_ids=ids,
        paths=[str(Path(s) / f"{i}.dicom") for s, i in zip(splits, ids, strict=True)],
        patients=None,
        views=[""] * len(ids),
        labels=np.asarray(rows, dtype=np.float32).reshape(len(ids), len(classes)),
        splits=splits,
        source=PHYSIONET_SOURCE,
    )


_ID_COLUMNS = ("image_id", "rad_ID", "rad_id")
