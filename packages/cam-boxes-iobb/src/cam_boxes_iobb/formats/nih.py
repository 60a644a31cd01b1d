"""NIH ChestX-ray14 boxes: ``BBox_List_2017.csv`` (Wang et al., CVPR 2017; the data set's
``README_CHESTXRAY.pdf`` and the files at https://nihcc.app.box.com/v/ChestXray-NIHCC).

The file's header is ``Image Index,Finding Label,Bbox [x,y,w,h],,,`` — the bracketed name splits
into the columns ``Bbox [x``, ``y``, ``w``, ``h]`` — and rows end in empty columns. Boxes are
``xywh`` in the 1024 x 1024 frame of the original PNGs; the label ``Infiltrate`` is spelled
``Infiltration`` everywhere else in the data set (it is renamed here). The patient is read from
``Data_Entry_2017.csv`` when given, else from the file name (``00013118_008.png``: patient
``00013118``, follow-up 8, NIH's naming). Images listed in the box file are the annotated images;
NIH draws boxes only on images that have the finding.
"""

from __future__ import annotations

import os
from pathlib import Path

from cam_boxes_iobb.annotations import AnnotationError, Annotations, check_box
from cam_boxes_iobb.formats._files import csv_rows, existing_file, number

#: The 14 findings in the order of the data set's papers; the first 8 have boxes.
NIH_CLASSES: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
#: The 8 findings ``BBox_List_2017.csv`` boxes.
NIH_BOX_CLASSES: tuple[str, ...] = NIH_CLASSES[:8]
NIH_FRAME = (1024, 1024)
LABEL_ALIASES = {"Infiltrate": "Infiltration"}


def _patients(data_entry: Path) -> dict[str, str]:
    return {
        row["Image Index"]: row["Patient ID"]
        for _, row in csv_rows(data_entry, ("Image Index", "Patient ID"))
    }


def read_nih(
    path: str | os.PathLike,
    data_entry: str | os.PathLike | None = None,
    frame: tuple[int, int] = NIH_FRAME,
) -> Annotations:
    """Read ``BBox_List_2017.csv`` (or the data-set folder holding it).

    Args:
        path: the CSV, or the folder (then ``Data_Entry_2017_v2020.csv`` or
            ``Data_Entry_2017.csv`` beside it gives the patients, if present).
        data_entry: ``Data_Entry_2017.csv`` for the patients (default: the folder's, else the
            file names' prefixes).
        frame: ``(height, width)`` of the boxes' frame (NIH: 1024 x 1024).

    Examples:
        >>> import tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "BBox_List_2017.csv"
        >>> _ = file.write_text("Image Index,Finding Label,Bbox [x,y,w,h],,,\\n"
        ...                     "00013118_008.png,Infiltrate,225.0,547.0,86.5,79.0,,,\\n")
        >>> ann = read_nih(file)
        >>> ann["00013118_008.png"].boxes["Infiltration"].tolist(), ann["00013118_008.png"].patient
        ([[225.0, 547.0, 86.5, 79.0]], '00013118')
    """
    file = existing_file(path, ("BBox_List_2017.csv",))
    if data_entry is None:
        for name in ("Data_Entry_2017_v2020.csv", "Data_Entry_2017.csv"):
            if (file.parent / name).is_file():
                data_entry = file.parent / name
                break
    patients = _patients(existing_file(data_entry)) if data_entry is not None else {}
    annotations = Annotations(NIH_CLASSES, source=str(file), declared_box_classes=NIH_BOX_CLASSES)
    height, width = frame
    for where, row in csv_rows(file, ("Image Index", "Finding Label", "Bbox [x", "y", "w", "h]")):
        name = row["Image Index"]
        label = LABEL_ALIASES.get(row["Finding Label"], row["Finding Label"])
        if label not in NIH_CLASSES:
            raise AnnotationError(
                f"{where}: unknown finding {row['Finding Label']!r}; expected one of "
                f"{list(NIH_CLASSES)} (or 'Infiltrate')."
            )
        if not name:
            raise AnnotationError(f"{where}: empty 'Image Index'.")
        box = [number(row[c], where, c) for c in ("Bbox [x", "y", "w", "h]")]
        patient = patients.get(name, name.split("_")[0])
        image = annotations.get_or_add(name, patient, height, width)
        image.add_box(label, check_box(box, height, width, where))
    return annotations
