"""RSNA Pneumonia Detection Challenge: ``stage_2_train_labels.csv`` (Shih et al., Radiology: AI
2019; the challenge's data page on Kaggle, ``rsna-pneumonia-detection-challenge``).

Columns ``patientId,x,y,width,height,Target``: one row per box of lung opacity (``Target`` 1),
or one row with empty coordinates and ``Target`` 0 for an image without one. Boxes are ``xywh``
in the pixels of the 1024 x 1024 DICOMs. ``patientId`` names the image (one image per patient);
the class is ``Lung Opacity``, as ``stage_2_detailed_class_info.csv`` calls it.
"""

from __future__ import annotations

import os

from cam_boxes_iobb.annotations import AnnotationError, Annotations, check_box
from cam_boxes_iobb.formats._files import csv_rows, existing_file, number

RSNA_CLASSES: tuple[str, ...] = ("Lung Opacity",)
RSNA_FRAME = (1024, 1024)


def read_rsna(path: str | os.PathLike, frame: tuple[int, int] = RSNA_FRAME) -> Annotations:
    """Read ``stage_2_train_labels.csv`` (or the folder holding it).

    Examples:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "stage_2_train_labels.csv"
        >>> _ = file.write_text("patientId,x,y,width,height,Target\\n"
        ...                     "0004cfab-14fd-4e49-80ba-63a80b6bddd6,,,,,0\\n"
        ...                     "00436515-870c-4b36-a041-de91049b9ab4,264.0,152.0,213.0,379.0,1\\n")
        >>> ann = read_rsna(file)
        >>> len(ann), ann["00436515-870c-4b36-a041-de91049b9ab4"].boxes["Lung Opacity"].tolist()
        (2, [[264.0, 152.0, 213.0, 379.0]])
    """
    file = existing_file(path, ("stage_2_train_labels.csv", "stage_1_train_labels.csv"))
    annotations = Annotations(RSNA_CLASSES, source=str(file))
    height, width = frame
    for where, row in csv_rows(file, ("patientId", "x", "y", "width", "height", "Target")):
        if not row["patientId"]:
            raise AnnotationError(f"{where}: empty 'patientId'.")
        image = annotations.get_or_add(row["patientId"], row["patientId"], height, width)
        if row["Target"] == "0":
            if any(row[c] for c in ("x", "y", "width", "height")):
                raise AnnotationError(f"{where}: Target 0 with a box.")
            continue
        if row["Target"] != "1":
            raise AnnotationError(f"{where}: Target {row['Target']!r}, expected 0 or 1.")
        box = [number(row[c], where, c) for c in ("x", "y", "width", "height")]
        image.add_box("Lung Opacity", check_box(box, height, width, where))
    return annotations
