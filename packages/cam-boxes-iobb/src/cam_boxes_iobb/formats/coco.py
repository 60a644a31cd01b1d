"""COCO JSON, the neutral form on disk (format: https://cocodataset.org/#format-data; the
extensions this package reads and writes are listed in :mod:`cam_boxes_iobb.annotations`).

Masks may be RLE (compressed ``counts`` string or uncompressed list) or polygons, converted with
pycocotools; several masks of one class on one image are merged into one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cam_boxes_iobb import rle as rle_utils
from cam_boxes_iobb._atomic import write_atomically
from cam_boxes_iobb.annotations import (
    AnnotationError,
    Annotations,
    ImageAnnotation,
    check_box,
    check_frame,
)
from cam_boxes_iobb.formats._files import existing_file, read_json

EXTENSION_KEY = "cxr_localization"


def from_coco(data: Any, source: str) -> Annotations:
    """The neutral form of a COCO dictionary (``source`` names the file in errors)."""
    if not isinstance(data, Mapping):
        raise AnnotationError(f"{source}: expected a JSON object with images and annotations.")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise AnnotationError(f"{source}: expected a list under {key!r}.")
    categories: dict[int, str] = {}
    for i, category in enumerate(data["categories"]):
        where = f"{source}, categories[{i}]"
        if (
            not isinstance(category, Mapping)
            or not isinstance(category.get("name"), str)
            or not isinstance(category.get("id"), int | str)
        ):
            raise AnnotationError(f"{where}: expected an object with an 'id' and a 'name'.")
        if category.get("id") in categories:
            raise AnnotationError(f"{where}: category id {category.get('id')!r} is repeated.")
        categories[category.get("id")] = category["name"]
    extension = (
        data.get("info", {}).get(EXTENSION_KEY, {}) if isinstance(data.get("info"), Mapping) else {}
    )
    if not isinstance(extension, Mapping):
        extension = {}
    classes = extension.get("classes")
    if not (
        isinstance(classes, list)
        and all(isinstance(c, str) for c in classes)
        and set(classes) == set(categories.values())
    ):
        classes = list(categories.values())
    if not classes:
        raise AnnotationError(f"{source}: no categories.")
    declared = extension.get("declared_box_classes", [])
    if not (
        isinstance(declared, list)
        and all(isinstance(c, str) for c in declared)
        and set(declared) <= set(classes)
    ):
        raise AnnotationError(
            f"{source}: info.{EXTENSION_KEY}.declared_box_classes must be classes."
        )
    annotations = Annotations(tuple(classes), source=source, declared_box_classes=tuple(declared))
    by_id: dict[Any, ImageAnnotation] = {}
    for i, image in enumerate(data["images"]):
        where = f"{source}, images[{i}]"
        if (
            not isinstance(image, Mapping)
            or not isinstance(image.get("id"), int | str)
            or isinstance(image.get("id"), bool)
            or not isinstance(image.get("file_name"), str)
        ):
            raise AnnotationError(
                f"{where}: expected an object with an 'id' (integer or string) and a 'file_name'."
            )
        height, width = check_frame(image.get("height"), image.get("width"), where)
        name = image["file_name"]
        entry = ImageAnnotation(name, str(image.get("patient_id", name)), height, width)
        if image["id"] in by_id:
            raise AnnotationError(f"{where}: image id {image['id']!r} is repeated.")
        if name in annotations:
            raise AnnotationError(f"{where}: file_name {name!r} is repeated.")
        by_id[image["id"]] = entry
        annotations.add(entry)
    for i, item in enumerate(data["annotations"]):
        where = f"{source}, annotations[{i}]"
        if not isinstance(item, Mapping) or not all(
            isinstance(item.get(k), int | str) for k in ("image_id", "category_id")
        ):
            raise AnnotationError(f"{where}: expected an object with image_id and category_id.")
        image = by_id.get(item.get("image_id"))
        if image is None:
            raise AnnotationError(f"{where}: image_id {item.get('image_id')!r} is not in images.")
        label = categories.get(item.get("category_id"))
        if label is None:
            raise AnnotationError(
                f"{where}: category_id {item.get('category_id')!r} is not in categories."
            )
        segmentation = item.get("segmentation")
        if segmentation:
            rle = rle_utils.from_segmentation(segmentation, image.height, image.width, where)
            image.masks[label] = (
                rle_utils.merge(image.masks[label], rle) if label in image.masks else rle
            )
        if item.get("bbox") is not None and not (segmentation and item.get("mask_only")):
            if not isinstance(item["bbox"], list):
                raise AnnotationError(f"{where}: bbox must be a list [x, y, w, h].")
            image.add_box(
                label,
                check_box(item["bbox"], image.height, image.width, where),
                str(item.get("reader", "")),
            )
    return annotations


def read_coco(path: str | os.PathLike) -> Annotations:
    """Read a COCO JSON file into the neutral form.

    Examples:
        >>> import json, tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "boxes.json"
        >>> _ = file.write_text(json.dumps({
        ...     "images": [{"id": 1, "file_name": "a.png", "height": 512, "width": 512}],
        ...     "annotations": [{"id": 1, "image_id": 1, "category_id": 7,
        ...                      "bbox": [10, 20, 30, 40], "iscrowd": 0, "area": 1200}],
        ...     "categories": [{"id": 7, "name": "Nodule"}]}))
        >>> ann = read_coco(file)
        >>> ann["a.png"].boxes["Nodule"].tolist(), ann["a.png"].patient
        ([[10.0, 20.0, 30.0, 40.0]], 'a.png')
    """
    file = existing_file(path)
    return from_coco(read_json(file), str(file))


def to_coco(annotations: Annotations) -> dict[str, Any]:
    """The COCO dictionary of ``annotations`` (boxes as ``bbox``; a class's mask as one RLE
    annotation with ``iscrowd: 1``, its ``bbox`` the mask's extent and ``mask_only: true``)."""
    category = {name: i + 1 for i, name in enumerate(annotations.classes)}
    images, items = [], []
    for image_id, image in enumerate(annotations, start=1):
        images.append(
            {
                "id": image_id,
                "file_name": image.name,
                "height": image.height,
                "width": image.width,
                "patient_id": image.patient,
            }
        )
        for label, boxes in image.boxes.items():
            readers = image.readers.get(label, [""] * len(boxes))
            for box, reader in zip(boxes.tolist(), readers, strict=True):
                items.append(
                    {
                        "image_id": image_id,
                        "category_id": category[label],
                        "bbox": box,
                        "area": box[2] * box[3],
                        "iscrowd": 0,
                        **({"reader": reader} if reader else {}),
                    }
                )
        for label, rle in image.masks.items():
            counts = rle["counts"]
            items.append(
                {
                    "image_id": image_id,
                    "category_id": category[label],
                    "segmentation": {
                        "size": list(rle["size"]),
                        "counts": counts.decode() if isinstance(counts, bytes) else counts,
                    },
                    "bbox": rle_utils.bbox(rle),
                    "area": float(rle_utils.area(rle)),
                    "iscrowd": 1,
                    "mask_only": True,
                }
            )
    for number, item in enumerate(items, start=1):
        item["id"] = number
    return {
        "info": {
            "description": f"localization ground truth read from {annotations.source}",
            EXTENSION_KEY: {
                "version": 1,
                "classes": list(annotations.classes),
                "localized_classes": list(annotations.localized_classes),
                "declared_box_classes": list(annotations.declared_box_classes),
                "source": annotations.source,
            },
        },
        "images": images,
        "annotations": items,
        "categories": [
            {"id": i, "name": n, "supercategory": "finding"} for n, i in category.items()
        ],
    }


def write_coco(annotations: Annotations, path: str | os.PathLike) -> Path:
    """Write ``annotations`` as COCO JSON (atomically: a temporary file, then a rename)."""
    coco = to_coco(annotations)
    return write_atomically(Path(path), lambda handle: json.dump(coco, handle, allow_nan=False))
