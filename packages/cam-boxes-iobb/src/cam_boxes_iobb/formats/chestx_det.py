"""ChestX-Det: ``ChestX_Det_train.json`` / ``ChestX_Det_test.json`` (Lian et al., "A
Structure-Aware Relation Network for Thoracic Diseases Detection and Segmentation", IEEE TMI
2021; the format as its repository Deepwise-AILab/ChestX-Det-Dataset, ``README.md``, states it).

A JSON list, one object per image: ``{"file_name": "36302.png", "syms": [...], "boxes": [[x1,
y1, x2, y2], ...], "polygons": [[[x, y], ...], ...]}``; ``syms[i]`` names ``boxes[i]`` and
``polygons[i]``; ``boxes`` are the left-top and right-bottom corners. The images are NIH
ChestX-ray14 PNGs (1024 x 1024); an image with empty ``syms`` has no finding. Each finding
becomes a box and its polygon a mask (the class's polygons on one image merged into one mask).
The file has no patient ids: each image is its own resampling unit unless ``patients`` maps them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from cam_boxes_iobb import rle as rle_utils
from cam_boxes_iobb.annotations import AnnotationError, Annotations, check_box, class_order
from cam_boxes_iobb.formats._files import existing_file, read_json

#: The 13 categories, in the order of the data set's README.
CHESTX_DET_CLASSES: tuple[str, ...] = (
    "Atelectasis",
    "Calcification",
    "Cardiomegaly",
    "Consolidation",
    "Diffuse Nodule",
    "Effusion",
    "Emphysema",
    "Fibrosis",
    "Fracture",
    "Mass",
    "Nodule",
    "Pleural Thickening",
    "Pneumothorax",
)
CHESTX_DET_FRAME = (1024, 1024)


def read_chestx_det(
    path: str | os.PathLike,
    frame: tuple[int, int] = CHESTX_DET_FRAME,
    patients: Mapping[str, str] | None = None,
) -> Annotations:
    """Read a ChestX-Det JSON file into boxes and masks.

    Examples:
        >>> import json, tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "ChestX_Det_test.json"
        >>> _ = file.write_text(json.dumps([
        ...     {"file_name": "36199.png", "syms": [], "boxes": [], "polygons": []},
        ...     {"file_name": "36302.png", "syms": ["Effusion"], "boxes": [[799, 666, 937, 761]],
        ...      "polygons": [[[799, 678], [937, 700], [900, 761], [805, 740]]]}]))
        >>> image = read_chestx_det(file)["36302.png"]
        >>> image.boxes["Effusion"].tolist(), bool(image.mask("Effusion").any())
        ([[799.0, 666.0, 138.0, 95.0]], True)
    """
    file = existing_file(path)
    data = read_json(file)
    if not isinstance(data, list):
        raise AnnotationError(f"{file}: expected a JSON list of images.")
    found = set()
    for i, entry in enumerate(data):
        where = f"{file}, entry {i}"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("file_name"), str):
            raise AnnotationError(f"{where}: expected an object with a 'file_name'.")
        syms, boxes = entry.get("syms"), entry.get("boxes")
        polygons = entry.get("polygons", [None] * len(syms or []))
        if not all(isinstance(v, list) for v in (syms, boxes, polygons)) or not (
            len(syms) == len(boxes) == len(polygons)
        ):
            raise AnnotationError(
                f"{where} ({entry['file_name']}): 'syms', 'boxes' and 'polygons' must be lists "
                "of one length."
            )
        if not all(isinstance(s, str) for s in syms):
            raise AnnotationError(f"{where}: 'syms' must be names.")
        found.update(syms)
    annotations = Annotations(class_order(found, CHESTX_DET_CLASSES), source=str(file))
    height, width = frame
    for i, entry in enumerate(data):
        name = entry["file_name"]
        where = f"{file}, entry {i} ({name})"
        image = annotations.get_or_add(name, (patients or {}).get(name, name), height, width)
        polygons = entry.get("polygons", [None] * len(entry["syms"]))
        for label, corners, polygon in zip(entry["syms"], entry["boxes"], polygons, strict=True):
            if not isinstance(corners, list) or len(corners) != 4:
                raise AnnotationError(f"{where}: a box needs [x1, y1, x2, y2], got {corners!r}.")
            try:
                x1, y1, x2, y2 = (float(v) for v in corners)
            except (TypeError, ValueError):
                raise AnnotationError(f"{where}: box {corners!r} is not 4 numbers.") from None
            image.add_box(label, check_box([x1, y1, x2 - x1, y2 - y1], height, width, where))
            if polygon:
                rle = rle_utils.from_segmentation([polygon], height, width, where)
                image.masks[label] = (
                    rle_utils.merge(image.masks[label], rle) if label in image.masks else rle
                )
    return annotations
