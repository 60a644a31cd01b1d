"""CheXlocalize segmentations: ``gt_segmentations_val.json`` / ``gt_segmentations_test.json``
(Saporta et al., "Benchmarking saliency methods for chest X-ray interpretation", Nature Machine
Intelligence 2022; the format as rajpurkarlab/cheXlocalize's ``README.md`` states it and its
``eval.py`` reads it).

A JSON object keyed by CXR id (``patient64622_study1_view1_frontal``); each holds one entry per
pathology, a pycocotools RLE ``{"size": [h, w], "counts": "..."}`` of the radiologists'
segmentation in the image's pixels, all-zero where the pathology is absent. The ten pathologies
are CheXlocalize's ``LOCALIZATION_TASKS``; the patient is the id's first part. An empty mask is
kept as "annotated, absent" (the image counts; that class is not scored on it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cam_boxes_iobb import rle as rle_utils
from cam_boxes_iobb.annotations import AnnotationError, Annotations, check_frame, class_order
from cam_boxes_iobb.formats._files import existing_file, read_json

#: CheXlocalize's ``eval_constants.LOCALIZATION_TASKS``, in that order.
CHEXLOCALIZE_CLASSES: tuple[str, ...] = (
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
#: keys of a CXR's entry that are not pathologies (the raw-annotation files carry the size)
NON_CLASS_KEYS = ("img_size",)


def read_chexlocalize(path: str | os.PathLike) -> Annotations:
    """Read CheXlocalize's ground-truth segmentation JSON.

    Examples:
        >>> import json, tempfile, pathlib
        >>> import numpy as np
        >>> from cam_boxes_iobb.rle import encode
        >>> seg = np.zeros((40, 30), np.uint8); seg[5:15, 10:20] = 1
        >>> rle = encode(seg); rle["counts"] = rle["counts"].decode()
        >>> empty = encode(np.zeros((40, 30), np.uint8)); empty["counts"] = empty["counts"].decode()
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "gt_segmentations_val.json"
        >>> _ = file.write_text(json.dumps({"patient64541_study1_view1_frontal":
        ...                                 {"Cardiomegaly": rle, "Edema": empty}}))
        >>> image = read_chexlocalize(file)["patient64541_study1_view1_frontal"]
        >>> image.patient, sorted(image.masks), int(image.mask("Cardiomegaly").sum())
        ('patient64541', ['Cardiomegaly'], 100)
    """
    file = existing_file(path)
    data = read_json(file)
    if not isinstance(data, Mapping):
        raise AnnotationError(f"{file}: expected a JSON object keyed by CXR id.")
    found = set()
    for cxr_id, entry in data.items():
        if not isinstance(entry, Mapping):
            raise AnnotationError(f"{file}, {cxr_id!r}: expected an object of pathologies.")
        found.update(k for k in entry if k not in NON_CLASS_KEYS)
    annotations = Annotations(class_order(found, CHEXLOCALIZE_CLASSES), source=str(file))
    for cxr_id, entry in data.items():
        image = None
        for label, rle in entry.items():
            if label in NON_CLASS_KEYS:
                continue
            where = f"{file}, {cxr_id!r}, {label!r}"
            if not isinstance(rle, Mapping) or not isinstance(rle.get("size"), list):
                raise AnnotationError(f"{where}: expected an RLE with 'size' and 'counts'.")
            if len(rle["size"]) != 2:
                raise AnnotationError(f"{where}: 'size' must be [height, width].")
            height, width = check_frame(*rle["size"], where)
            if image is None:
                image = annotations.get_or_add(cxr_id, cxr_id.split("_")[0], height, width)
            elif (height, width) != (image.height, image.width):
                raise AnnotationError(
                    f"{where}: size {height} x {width}, the CXR's other masks "
                    f"{image.height} x {image.width}."
                )
            decoded = rle_utils.from_segmentation(rle, height, width, where)
            if rle_utils.area(decoded) > 0:
                image.masks[label] = decoded
        if image is None:
            raise AnnotationError(f"{file}, {cxr_id!r}: no pathology entry.")
    return annotations
