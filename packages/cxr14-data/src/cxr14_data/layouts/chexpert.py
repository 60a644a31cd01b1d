"""CheXpert v1.0 and CheXpert-v1.0-small: ``train.csv`` and ``valid.csv``.

The layout (Irvin et al. 2019; the data set's download page at
https://stanfordmlgroup.github.io/competitions/chexpert/): one row per image, the columns
``Path`` (``CheXpert-v1.0[-small]/{train,valid}/patient<N>/study<N>/view<N>_<view>.jpg``,
relative to the folder that holds the ``CheXpert-v1.0[-small]`` folder), ``Sex``, ``Age``,
``Frontal/Lateral``, ``AP/PA`` and the 14 observations below, each ``1.0``, ``0.0``, ``-1.0``
(uncertain) or blank (not mentioned). In the real ``train.csv`` a frontal row's ``AP/PA`` is
``AP`` or ``PA`` (17 rows: ``LL`` or ``RL``, decubitus views, kept as such and so not frontal
here) and a lateral row's is blank. ``valid.csv`` holds the 200 validation studies labelled by
three radiologists. CheXlocalize's validation and test masks (Saporta et al. 2022) are on these
validation images and on CheXpert's test set; ``cam_boxes_iobb``'s CheXlocalize reader reads them.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np

from cxr14_data.layouts.table import LATERAL, LabelTable
from cxr14_data.metadata import MetadataError, checked_rows, locate

#: The 14 observations, in the CSV's order.
CHEXPERT_CLASSES = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
CHEXPERT_FILES = ("train.csv", "valid.csv")
SOURCE = (
    "Irvin et al. 2019, CheXpert (AAAI); https://stanfordmlgroup.github.io/competitions/chexpert/"
)
_PATIENT = re.compile(r"(?:^|/)(train|valid|test)/(patient\d+)/(study\d+)/")
_VALUES = {"1": 1.0, "1.0": 1.0, "0": 0.0, "0.0": 0.0, "-1": -1.0, "-1.0": -1.0, "": math.nan}


def read_chexpert(path: str | os.PathLike) -> LabelTable:
    """One CheXpert CSV (``train.csv`` or ``valid.csv``), or both in a folder.

    Args:
        path: a CSV (may be ``.gz``), or the ``CheXpert-v1.0[-small]`` folder (both CSVs).

    Returns:
        The images with their patients (``patient<NNNNN>``), views (``AP``, ``PA``,
        :data:`~cxr14_data.layouts.table.LATERAL`), the 14 observations and the split the
        path names (``train``, ``valid``).

    Raises:
        MetadataError: naming the file and line of a row whose path, view or label is not
            CheXpert's, or a missing column.

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> header = "Path,Sex,Age,Frontal/Lateral,AP/PA," + ",".join(CHEXPERT_CLASSES)
        >>> row = "CheXpert-v1.0-small/valid/patient64541/study1/view1_frontal.jpg,Male,73,"
        >>> _ = (folder / "valid.csv").write_text(header + "\\n" + row + "Frontal,AP" + ",0" * 14)
        >>> table = read_chexpert(folder / "valid.csv")
        >>> table.patients, table.views, table.splits, table.labels.shape
        (['patient64541'], ['AP'], ['valid'], (1, 14))
    """
    path = Path(path)
    files = [path] if path.is_file() else [locate(path, (name,)) for name in CHEXPERT_FILES]
    parts = [_read_one(file) for file in files]
    return LabelTable(
        layout="chexpert",
        classes=CHEXPERT_CLASSES,
        image_ids=[i for p in parts for i in p[0]],
        paths=[i for p in parts for i in p[0]],
        patients=[i for p in parts for i in p[1]],
        views=[i for p in parts for i in p[2]],
        labels=np.concatenate([p[3] for p in parts]),
        splits=[i for p in parts for i in p[4]],
        source=SOURCE,
    )


def _read_one(path: Path) -> tuple[list[str], list[str], list[str], np.ndarray, list[str]]:
    images, patients, views, splits = [], [], [], []
    labels: list[list[float]] = []
    columns = ("Path", "Frontal/Lateral", "AP/PA", *CHEXPERT_CLASSES)
    for line, index, row in checked_rows(path, columns):
        cells = {c: row[index[c]].strip() if index[c] < len(row) else "" for c in index}
        where = f"{path}, line {line}"
        found = _PATIENT.search(cells["Path"])
        if found is None:
            raise MetadataError(
                f"{where}: Path {cells['Path']!r} is not "
                "<...>/{train,valid,test}/patient<N>/study<N>/<view>.jpg."
            )
        split, patient, _study = found.groups()
        images.append(cells["Path"])
        patients.append(patient)
        splits.append(split)
        views.append(_view(cells["Frontal/Lateral"], cells["AP/PA"], where))
        labels.append([_label(cells[c], c, where) for c in CHEXPERT_CLASSES])
    if not images:
        raise MetadataError(f"{path} holds a header but no image.")
    return images, patients, views, np.asarray(labels, dtype=np.float32), splits


def _view(frontal_lateral: str, ap_pa: str, where: str) -> str:
    if frontal_lateral == "Lateral":
        return LATERAL
    if frontal_lateral == "Frontal":
        return ap_pa.upper()
    raise MetadataError(f"{where}: Frontal/Lateral is {frontal_lateral!r}, not Frontal or Lateral.")


def _label(text: str, column: str, where: str) -> float:
    try:
        return _VALUES[text]
    except KeyError:
        raise MetadataError(
            f"{where}: column {column!r} is {text!r}, expected 1.0, 0.0, -1.0 or blank."
        ) from None
