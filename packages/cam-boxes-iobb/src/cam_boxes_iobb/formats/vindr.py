"""VinDr-CXR radiologists' boxes: ``annotations_train.csv`` / ``annotations_test.csv`` (Nguyen et
al., "VinDr-CXR: An open dataset of chest X-rays with radiologist's annotations", Scientific Data
2022; the PhysioNet release ``vindr-cxr/1.0.0``, and the Kaggle "VinBigData Chest X-ray
Abnormalities Detection" ``train.csv``, which adds a ``class_id`` column).

One row per box and reader: ``image_id,rad_id,class_name,x_min,y_min,x_max,y_max`` (the column
may be spelled ``rad_ID``; the test file's consensus has none). A row ``No finding`` with empty
coordinates says that reader found nothing. Coordinates are corners in the pixels of the DICOM
(``<image_id>.dicom``), whose size the CSV does not hold: give it as a mapping or a CSV
``image_id,height,width``, or let the reader take ``Rows`` x ``Columns`` from the DICOM headers
(pydicom, pixels not read). Each training image was read by three radiologists: every reader's
box is kept as a GT box (a predicted box that hits any reader's box hits it), with the reader in
``ImageAnnotation.readers``; ``readers=`` keeps only some. VinDr-CXR publishes no patient ids,
so each image is its own resampling unit.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

from cam_boxes_iobb.annotations import (
    AnnotationError,
    Annotations,
    check_box,
    check_frame,
    class_order,
)
from cam_boxes_iobb.formats._files import csv_rows, existing_file, number

#: The 22 local labels of VinDr-CXR, in the paper's order.
VINDR_CLASSES: tuple[str, ...] = (
    "Aortic enlargement",
    "Atelectasis",
    "Calcification",
    "Cardiomegaly",
    "Clavicle fracture",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Enlarged PA",
    "ILD",
    "Infiltration",
    "Lung Opacity",
    "Lung cavity",
    "Lung cyst",
    "Mediastinal shift",
    "Nodule/Mass",
    "Other lesion",
    "Pleural effusion",
    "Pleural thickening",
    "Pneumothorax",
    "Pulmonary fibrosis",
    "Rib fracture",
)
NO_FINDING = "No finding"
SIZE_COLUMNS = ("image_id", "height", "width")


def _sizes_from_csv(path: Path) -> dict[str, tuple[int, int]]:
    sizes = {}
    for where, row in csv_rows(path, SIZE_COLUMNS):
        sizes[row["image_id"]] = check_frame(
            number(row["height"], where, "height"), number(row["width"], where, "width"), where
        )
    return sizes


def dicom_size(path: Path) -> tuple[int, int]:
    """``(Rows, Columns)`` of a DICOM file, read from its header only."""
    try:
        import pydicom
    except ModuleNotFoundError:
        raise AnnotationError(
            "Reading image sizes from DICOM headers needs pydicom: pip install pydicom, or give "
            "the sizes as a CSV image_id,height,width."
        ) from None
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
        return check_frame(header.Rows, header.Columns, str(path))
    except AnnotationError:
        raise
    except Exception as error:  # pydicom raises many kinds on damaged files
        raise AnnotationError(f"{path}: not a readable DICOM header ({error}).") from None


def read_vindr(
    path: str | os.PathLike,
    sizes: Mapping[str, tuple[int, int]] | str | os.PathLike | None = None,
    dicom_dir: str | os.PathLike | None = None,
    readers: Collection[str] | None = None,
) -> Annotations:
    """Read a VinDr-CXR annotation CSV.

    Args:
        path: ``annotations_train.csv``, ``annotations_test.csv`` or Kaggle's ``train.csv``.
        sizes: each image's ``(height, width)``: a mapping, or a CSV ``image_id,height,width``.
        dicom_dir: else, the folder of ``<image_id>.dicom`` (or ``.dcm``) files.
        readers: keep only these ``rad_id`` values (default: every reader).

    Examples:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "annotations_train.csv"
        >>> _ = file.write_text("image_id,rad_id,class_name,x_min,y_min,x_max,y_max\\n"
        ...     "000434271f63a053c4128a0ba6352c7f,R2,No finding,,,,\\n"
        ...     "9a5094b2563a1ef3ff50dc5c7ff71345,R10,Cardiomegaly,691,1375,1653,1831\\n"
        ...     "9a5094b2563a1ef3ff50dc5c7ff71345,R9,Cardiomegaly,692,1360,1640,1840\\n")
        >>> ann = read_vindr(file, sizes={"000434271f63a053c4128a0ba6352c7f": (3072, 3072),
        ...                               "9a5094b2563a1ef3ff50dc5c7ff71345": (2336, 2080)})
        >>> image = ann["9a5094b2563a1ef3ff50dc5c7ff71345"]
        >>> image.boxes["Cardiomegaly"][0].tolist(), image.readers["Cardiomegaly"]
        ([691.0, 1375.0, 962.0, 456.0], ['R10', 'R9'])
    """
    file = existing_file(path)
    if isinstance(sizes, str | os.PathLike):
        sizes = _sizes_from_csv(existing_file(sizes))
    if sizes is None and dicom_dir is None:
        raise AnnotationError(
            f"{file}: VinDr-CXR's CSV holds no image sizes; give sizes (a CSV image_id,height,"
            "width) or the folder of its DICOM files."
        )
    columns = ("image_id", "class_name", "x_min", "y_min", "x_max", "y_max")
    rows = list(csv_rows(file, columns, aliases={"rad_ID": "rad_id"}))
    found = {row["class_name"] for _, row in rows} - {NO_FINDING}
    annotations = Annotations(class_order(found, VINDR_CLASSES), source=str(file))
    for where, row in rows:
        name, reader = row["image_id"], row.get("rad_id", "")
        if not name:
            raise AnnotationError(f"{where}: empty 'image_id'.")
        if readers is not None and reader not in readers:
            continue
        if name not in annotations:
            if sizes is not None:
                if name not in sizes:
                    raise AnnotationError(f"{where}: no size given for image {name!r}.")
                height, width = check_frame(*sizes[name], where)
            else:
                candidates = [Path(dicom_dir) / f"{name}{ext}" for ext in (".dicom", ".dcm")]
                found_file = next((c for c in candidates if c.is_file()), None)
                if found_file is None:
                    raise AnnotationError(f"{where}: no DICOM {candidates[0]} for its size.")
                height, width = dicom_size(found_file)
            annotations.get_or_add(name, name, height, width)
        image = annotations[name]
        if row["class_name"] == NO_FINDING:
            if any(row[c] for c in columns[2:]):
                raise AnnotationError(f"{where}: 'No finding' with a box.")
            continue
        x0, y0, x1, y1 = (number(row[c], where, c) for c in columns[2:])
        box = check_box([x0, y0, x1 - x0, y1 - y0], image.height, image.width, where)
        image.add_box(row["class_name"], box, reader)
    return annotations
