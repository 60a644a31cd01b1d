"""``ChestXray14``: the NIH data set (or anything in its layout) as a torch ``Dataset``."""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision import tv_tensors

from cxr14_data.boxes import NIH_BOX_FRAME, box_in_frame, check_frame, rescale_boxes
from cxr14_data.images import decode_gray, find_images
from cxr14_data.labels import labels_to_vector
from cxr14_data.metadata import (
    BBOX_LIST_NAMES,
    TEST_LIST,
    TRAIN_VAL_LIST,
    BoxRecord,
    ImageRecord,
    MetadataError,
    locate,
    read_bbox_list,
    read_data_entry,
    read_split_list,
)
from cxr14_data.prepared import PreparedStore
from cxr14_data.splits import SPLITS, select_train_val
from cxr14_data.transforms import transform_with_boxes

Transform = Callable[[tv_tensors.Image, tv_tensors.BoundingBoxes], tuple[Any, Any]]
OnMissing = Literal["error", "skip"]
ON_MISSING: tuple[str, ...] = ("error", "skip")


def _boxes_by_image(root: Path) -> dict[str, list[BoxRecord]]:
    try:
        file = locate(root, BBOX_LIST_NAMES)
    except MetadataError:
        return {}
    grouped: dict[str, list[BoxRecord]] = defaultdict(list)
    for box in read_bbox_list(file):
        grouped[box.image_index].append(box)
    return grouped


class ChestXray14(Dataset):
    """One split of ChestX-ray14 from a folder in the NIH layout.

    Args:
        root: folder with ``Data_Entry_2017[_v2020].csv``, ``train_val_list.txt``,
            ``test_list.txt``, optionally ``BBox_List_2017.csv``, and the images
            (``images/*.png`` or ``images_0NN/images/*.png``).
        split: ``"train"``, ``"val"`` or ``"test"`` (``test_list.txt``); train and val come from
            ``train_val_list.txt`` as in the paper (see :func:`select_train_val`).
        transform: called as ``transform(image, boxes)`` with a uint8 ``tv_tensors.Image``
            ``(1, H, W)`` and ``tv_tensors.BoundingBoxes`` (``XYWH``); e.g.
            :func:`paper_transforms`. ``None`` returns uint8 ``(3, H, W)`` images.
        no_finding: "No Finding" images drawn into train + val (``None``: all).
        val_fraction: share of the selected images (whole patients) in validation.
        seed: seeds the No-Finding draw and the patient split.
        on_missing: ``"error"`` raises on an image listed but absent; ``"skip"`` drops such
            images with a warning and counts them in :attr:`skipped`.
        prepared_size: read the prepared store of this size (see ``python -m cxr14_data
            prepare``) when it exists, instead of decoding the PNGs; a store whose source
            fingerprints differ from the images under ``root`` raises
            :class:`~cxr14_data.prepared.StaleStoreError`.
        cache: folder of the prepared store when it is not inside ``root`` (a read-only data
            mount); default ``root``.
        box_frame: ``(H, W)`` of the frame BBox_List's coordinates are in: NIH's
            ``(1024, 1024)`` whatever size the PNGs were saved at (:mod:`cxr14_data.boxes`);
            ``None`` for a data set whose CSV gives boxes in each stored PNG's own pixels.
        on_bad_box: a box of this split outside its frame (or, with ``box_frame=None``, its
            PNG) is a :class:`MetadataError` naming the CSV row (``"error"``), or is dropped with
            a warning and listed in :attr:`bad_boxes` (``"skip"``). Never silently clamped.

    Items are dicts: ``image`` (tensor), ``labels`` (float ``(14,)`` in :data:`CLASSES` order),
    ``image_index``, ``patient_id``, ``boxes`` (class name -> float ``(N, 4)`` ``xywh`` in the
    returned image's pixels; empty when none). Batch them with :func:`collate`.

    Convention:
        Boxes are read in ``box_frame``, scaled to the image as read (the PNG, or the prepared
        store's square), then carried through ``transform`` by torchvision, so they are in the
        pixels of the returned image for a raw folder and a prepared store alike.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        transform: Transform | None = None,
        *,
        no_finding: int | None = 5000,
        val_fraction: float = 0.2,
        seed: int = 0,
        on_missing: OnMissing = "error",
        prepared_size: int | None = None,
        cache: str | os.PathLike | None = None,
        box_frame: tuple[int, int] | None = NIH_BOX_FRAME,
        on_bad_box: OnMissing = "error",
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"Expected `split` to be one of {SPLITS}, got {split!r}.")
        for name, value in (("on_missing", on_missing), ("on_bad_box", on_bad_box)):
            if value not in ON_MISSING:
                raise ValueError(f"Expected `{name}` 'error' or 'skip', got {value!r}.")
        self.box_frame = None if box_frame is None else check_frame(box_frame)
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"Data root not found: {self.root}")
        self.split = split
        self.transform = transform
        records = self._split_records(split, no_finding, val_fraction, seed)
        self._boxes = _boxes_by_image(self.root)
        self._store = (
            PreparedStore.open(self.root, prepared_size, cache=cache) if prepared_size else None
        )
        self._paths: dict[str, Path] = {}
        if self._store is None or not all(r.image_index in self._store for r in records):
            self._store = None
            self._paths = find_images(self.root)
            available: Callable[[str], bool] = self._paths.__contains__
        else:
            self._store.check_sources(find_images(self.root), (r.image_index for r in records))
            available = self._store.__contains__
        absent = [r.image_index for r in records if not available(r.image_index)]
        if absent and on_missing == "error":
            raise FileNotFoundError(
                f"{len(absent)} images of the {split} split are listed but not found under "
                f"{self.root}, e.g. {absent[:3]}; pass on_missing='skip' to drop them."
            )
        if absent:
            warnings.warn(
                f"Skipped {len(absent)} listed but missing images of the {split} split under "
                f"{self.root} (e.g. {absent[:3]}).",
                stacklevel=2,
            )
        missing = set(absent)
        self.records: list[ImageRecord] = [r for r in records if r.image_index not in missing]
        self.skipped = len(absent)
        self.bad_boxes: list[BoxRecord] = []
        if self.box_frame is not None:
            self._check_boxes(on_bad_box)

    def _check_boxes(self, on_bad_box: str) -> None:
        """Refuse (or drop and list) the boxes of this split that lie outside the frame."""
        frame = self.box_frame
        assert frame is not None
        for record in self.records:
            boxes = self._boxes.get(record.image_index)
            if not boxes:
                continue
            bad = [b for b in boxes if not box_in_frame(b.xywh, frame)]
            if bad and on_bad_box == "error":
                raise MetadataError(
                    f"{bad[0].where or 'BBox_List'}: box {list(bad[0].xywh)} of "
                    f"{bad[0].image_index} lies outside the {frame[0]} x {frame[1]} box frame "
                    "(NIH's boxes are in the 1024 x 1024 frame whatever the PNG size; pass "
                    "box_frame= for another convention, or on_bad_box='skip' to drop such boxes)."
                )
            if bad:
                self.bad_boxes += bad
                self._boxes[record.image_index] = [b for b in boxes if b not in bad]
        if self.bad_boxes:
            warnings.warn(
                f"Dropped {len(self.bad_boxes)} boxes of the {self.split} split outside the "
                f"{frame[0]} x {frame[1]} frame, e.g. {self.bad_boxes[0].where}.",
                stacklevel=3,
            )

    @property
    def box_images(self) -> int:
        """How many images of this split have at least one GT box."""
        return sum(1 for r in self.records if self._boxes.get(r.image_index))

    def box_labels(self) -> list[tuple[str, str]]:
        """``(image, class)`` of every GT box of this split, in the split's order."""
        return [
            (r.image_index, box.label)
            for r in self.records
            for box in self._boxes.get(r.image_index, ())
        ]

    def _split_records(
        self, split: str, no_finding: int | None, val_fraction: float, seed: int
    ) -> list[ImageRecord]:
        entries = {r.image_index: r for r in read_data_entry(self.root)}
        list_name = TEST_LIST if split == "test" else TRAIN_VAL_LIST
        names = read_split_list(self.root / list_name)
        unknown = [n for n in names if n not in entries]
        if unknown:
            raise MetadataError(
                f"{self.root / list_name} lists {len(unknown)} images absent from Data_Entry, "
                f"e.g. {unknown[:3]}."
            )
        records = [entries[n] for n in names]
        if split == "test":
            return records
        train, val = select_train_val(records, no_finding, val_fraction, seed)
        return train if split == "train" else val

    def __len__(self) -> int:
        return len(self.records)

    @property
    def labels(self) -> torch.Tensor:
        """``(N, 14)`` label matrix of the split, in item order."""
        return torch.stack([labels_to_vector(r.labels) for r in self.records])

    def load_gray(self, index: int) -> tuple[np.ndarray, tuple[int, int]]:
        """The uint8 ``(H, W)`` image and the ``(H, W)`` of the PNG as stored on disk."""
        name = self.records[index].image_index
        if self._store is not None:
            return self._store.read(name), self._store.stored_sizes[name]
        gray = decode_gray(self._paths[name])
        return gray, gray.shape

    def image_path(self, index: int) -> Path | None:
        """The PNG of item ``index`` (``None`` when it is read from a prepared store)."""
        return self._paths.get(self.records[index].image_index)

    def __getitem__(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        gray, stored_size = self.load_gray(index)
        height, width = gray.shape
        box_records = self._boxes.get(record.image_index, [])
        xywh = torch.tensor([b.xywh for b in box_records], dtype=torch.float32).reshape(-1, 4)
        frame = self.box_frame or stored_size
        if self.box_frame is None and box_records:
            outside = [b for b in box_records if not box_in_frame(b.xywh, stored_size)]
            if outside:
                raise MetadataError(
                    f"{outside[0].where}: box {list(outside[0].xywh)} lies outside the "
                    f"{stored_size[0]} x {stored_size[1]} PNG {record.image_index}."
                )
        xywh = rescale_boxes(xywh, frame, (height, width))
        image, boxes = transform_with_boxes(gray, xywh, self.transform)
        return {
            "image": image,
            "labels": labels_to_vector(record.labels),
            "image_index": record.image_index,
            "patient_id": record.patient_id,
            "boxes": self._group_boxes(box_records, boxes),
        }

    @staticmethod
    def _group_boxes(records: Sequence[BoxRecord], boxes: torch.Tensor) -> dict[str, torch.Tensor]:
        grouped: dict[str, list[torch.Tensor]] = defaultdict(list)
        for record, box in zip(records, boxes, strict=True):
            grouped[record.label].append(box)
        return {name: torch.stack(rows) for name, rows in grouped.items()}


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch dataset items: ``image``, ``labels`` (and ``label_mask``) stacked, the other keys
    as lists.

    Examples:
        >>> batch = collate([{"image": torch.zeros(3, 4, 4), "labels": torch.zeros(14),
        ...                   "image_index": "a.png", "patient_id": 1, "boxes": {}}] * 2)
        >>> batch["image"].shape, batch["image_index"]
        (torch.Size([2, 3, 4, 4]), ['a.png', 'a.png'])
    """
    return {
        key: torch.stack([item[key] for item in items])
        if key in ("image", "labels", "label_mask")
        else [item[key] for item in items]
        for key in items[0]
    }
