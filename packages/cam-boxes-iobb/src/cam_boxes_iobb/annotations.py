"""One neutral form for localization ground truth: images, their patient, their frame, and per
class either boxes or masks (or both), whatever data set they came from.

The on-disk form is COCO JSON (Lin et al. 2014; https://cocodataset.org/#format-data): ``images``
(``id``, ``file_name``, ``height``, ``width``), ``annotations`` (``image_id``, ``category_id``,
``bbox`` ``[x, y, w, h]``, ``segmentation`` as run-length encoding (``{"size": [h, w],
"counts": ...}``, pycocotools' compressed string) or polygons, ``iscrowd``, ``area``) and
``categories`` (``id``, ``name``). This package adds what scoring needs and COCO lacks, in places
COCO readers ignore: ``images[].patient_id`` (the bootstrap's resampling unit),
``annotations[].reader`` (which radiologist drew it, where a data set has several), and
``info.cxr_localization`` (``classes``: the data set's class list in its order;
``localized_classes``: those with boxes or masks; ``source``: the file it was read from).

Convention:
    Boxes are ``xywh`` in pixels of the image as annotated (its ``height`` x ``width``, the
    annotation's *frame*), ``(x, y)`` the top-left corner, continuous coordinates (a box covers
    ``[x, x + w) x [y, y + h)``). Masks are ``uint8`` arrays of that frame, 1 inside. An image
    listed with no annotation is a negative image: it counts for false positives per image. A
    class is scored on an image only where that image has its boxes (box metrics) or a
    non-empty mask (mask metrics).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cam_boxes_iobb._annotation_error import RLE, AnnotationError
from cam_boxes_iobb.rle import decode


#: pycocotools' run-length encoding: ``{"size": [h, w], "counts": str}``.
@dataclass
class ImageAnnotation:
    """The ground truth of one image.

    Attributes:
        name: the image's identifier (file name or id), as the maps name it.
        patient: the patient it belongs to (images of one patient are resampled together).
        height, width: the frame the boxes and masks are in (pixels of the annotated image).
        boxes: class -> ``(N, 4)`` float64 ``xywh`` boxes.
        masks: class -> RLE of the class's mask (all its regions in one mask).
        readers: class -> the reader of each box (``""`` where the data set has one reader).
    """

    name: str
    patient: str
    height: int
    width: int
    boxes: dict[str, np.ndarray] = field(default_factory=dict)
    masks: dict[str, RLE] = field(default_factory=dict)
    readers: dict[str, list[str]] = field(default_factory=dict)

    def add_box(self, label: str, xywh: Sequence[float], reader: str = "") -> None:
        box = np.asarray(xywh, dtype=np.float64).reshape(1, 4)
        self.boxes[label] = np.concatenate([self.boxes.get(label, np.zeros((0, 4))), box])
        self.readers.setdefault(label, []).append(reader)

    def mask(self, label: str) -> np.ndarray:
        """The decoded ``(height, width)`` uint8 mask of ``label`` (zeros if it has none)."""
        if label not in self.masks:
            return np.zeros((self.height, self.width), dtype=np.uint8)
        return decode(self.masks[label])


@dataclass
class Annotations:
    """A data set's localization ground truth in the neutral form.

    Attributes:
        classes: the data set's classes, in its order.
        images: one :class:`ImageAnnotation` per annotated image (negatives included).
        source: where it was read from (a file path or a description).
        declared_box_classes: classes the data set boxes even where this file has none of them
            (NIH's 8 box classes): they are scored, and a predicted box of one is a false
            positive, as on the full data set.

    Examples:
        >>> ann = Annotations(("Mass", "Nodule"), source="hand-made")
        >>> ann.add(ImageAnnotation("a.png", "p1", 1024, 1024))
        >>> ann["a.png"].add_box("Mass", [10, 20, 30, 40])
        >>> ann.localized_classes, len(ann)
        (('Mass',), 1)
    """

    classes: tuple[str, ...]
    images: list[ImageAnnotation] = field(default_factory=list)
    source: str = ""
    declared_box_classes: tuple[str, ...] = ()
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes)
        self.declared_box_classes = tuple(self.declared_box_classes)
        if set(self.declared_box_classes) - set(self.classes):
            raise AnnotationError(
                f"{self.source or 'annotations'}: declared box classes "
                f"{sorted(set(self.declared_box_classes) - set(self.classes))} are not classes."
            )
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise AnnotationError(
                f"{self.source or 'annotations'}: expected distinct class names, got "
                f"{list(self.classes)}."
            )
        self._index = {}
        for image in list(self.images):
            self._index[image.name] = len(self._index)

    def add(self, image: ImageAnnotation) -> None:
        if image.name in self._index:
            raise AnnotationError(f"{self.source}: image {image.name!r} is listed twice.")
        self._index[image.name] = len(self.images)
        self.images.append(image)

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[ImageAnnotation]:
        return iter(self.images)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __getitem__(self, name: str) -> ImageAnnotation:
        return self.images[self._index[name]]

    def get_or_add(self, name: str, patient: str, height: int, width: int) -> ImageAnnotation:
        if name not in self._index:
            self.add(ImageAnnotation(name, patient, height, width))
        return self[name]

    @property
    def box_classes(self) -> tuple[str, ...]:
        """Classes with at least one box or declared as boxed, in the data set's order."""
        seen = {c for image in self.images for c, b in image.boxes.items() if len(b)}
        seen |= set(self.declared_box_classes)
        return tuple(c for c in self.classes if c in seen)

    @property
    def mask_classes(self) -> tuple[str, ...]:
        """Classes with at least one mask, in the data set's order."""
        seen = {c for image in self.images for c in image.masks}
        return tuple(c for c in self.classes if c in seen)

    @property
    def localized_classes(self) -> tuple[str, ...]:
        """Classes with boxes or masks, in the data set's order."""
        localized = set(self.box_classes) | set(self.mask_classes)
        return tuple(c for c in self.classes if c in localized)

    def summary(self) -> dict[str, Any]:
        """Counts for a report: images, patients, boxes and masks per class."""
        return {
            "source": self.source,
            "images": len(self.images),
            "patients": len({image.patient for image in self.images}),
            "classes": list(self.classes),
            "boxes": {c: sum(len(i.boxes.get(c, ())) for i in self.images) for c in self.classes},
            "masks": {c: sum(c in i.masks for i in self.images) for c in self.classes},
            "frames": sorted({f"{i.height}x{i.width}" for i in self.images})[:10],
        }


def check_box(values: Sequence[float], height: int, width: int, where: str) -> list[float]:
    """A box ``xywh`` that is finite, of positive size and inside its ``height`` x ``width``
    frame (to within half a pixel, for coordinates rounded by the annotation tool)."""
    try:
        x, y, w, h = (float(v) for v in values)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int beyond float's range
        shown = repr(list(values)) if isinstance(values, Sequence) else repr(values)
        raise AnnotationError(f"{where}: a box needs 4 numbers, got {shown[:80]}.") from None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise AnnotationError(f"{where}: box {[x, y, w, h]} has a non-finite value.")
    if w <= 0 or h <= 0:
        raise AnnotationError(f"{where}: box {[x, y, w, h]} has a non-positive width or height.")
    if x < -0.5 or y < -0.5 or x + w > width + 0.5 or y + h > height + 0.5:
        raise AnnotationError(
            f"{where}: box xywh {[x, y, w, h]} lies outside its {height} x {width} frame."
        )
    return [max(x, 0.0), max(y, 0.0), min(w, width - max(x, 0.0)), min(h, height - max(y, 0.0))]


#: Largest image side accepted (pixels): chest radiographs reach about 4,300; a mask of 8192 x 8192
#: is 64 MiB, so a file cannot make the reader allocate more than that per image.
MAX_FRAME_SIDE = 8192


def check_frame(
    height: Any, width: Any, where: str, limit: int = MAX_FRAME_SIDE
) -> tuple[int, int]:
    """An image size that is a positive integer pair no larger than ``limit`` per side."""
    try:
        h, w = int(height), int(width)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf), int(1e999)
        raise AnnotationError(
            f"{where}: image size {str(height)[:40]!r} x {str(width)[:40]!r} is not two integers."
        ) from None
    if not (0 < h <= limit and 0 < w <= limit) or (h, w) != (height, width):
        raise AnnotationError(
            f"{where}: image size {height!r} x {width!r} is not two integers in [1, {limit}]."
        )
    return h, w


def class_order(found: Mapping[str, int] | Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """``known`` classes first, in their order, then any other found class, sorted."""
    extra = sorted(set(found) - set(known))
    return (*known, *extra)
