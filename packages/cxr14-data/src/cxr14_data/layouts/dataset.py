"""Any :class:`~cxr14_data.layouts.table.LabelTable` as a PyTorch data set, items in the form
:class:`~cxr14_data.ChestXray14` gives (so one training and scoring pipeline reads every set),
plus the mask of labels the uncertainty policy keeps."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms.v2 import Transform

from cxr14_data.boxes import box_in_frame
from cxr14_data.layouts.policies import BlankPolicy, UncertaintyPolicy, apply_policy
from cxr14_data.layouts.table import LabelTable
from cxr14_data.metadata import MetadataError
from cxr14_data.reading import read_image
from cxr14_data.transforms import transform_with_boxes


class LayoutDataset(Dataset):
    """The images of ``table`` under ``root``, labels through an uncertainty policy.

    Args:
        table: the images (a layout reader's table, filtered and split as the run needs).
        root: the folder the table's paths are relative to; where the table's file names are
            all distinct, a path that is not there is looked up by its file name anywhere under
            ``root`` (SIIM-ACR nests its DICOMs), if exactly one file there has that name.
        transform: as :class:`~cxr14_data.ChestXray14`'s: ``transform(image, boxes)`` with a
            uint8 ``tv_tensors.Image`` ``(1, H, W)`` and ``tv_tensors.BoundingBoxes``.
        uncertain: what an uncertain (``-1``) label trains as (U-Ignore masks it).
        blank: what a blank label trains as.
        boxes: per image id, per class, ``(n, 4)`` ``xywh`` boxes in the stored image's pixels.
        on_missing: ``"error"`` or ``"skip"`` (drop, warn and count in :attr:`skipped`) an image
            the table lists but ``root`` lacks.

    Items: ``image``, ``labels`` (float ``(K,)`` targets), ``label_mask`` (bool ``(K,)``, true
    where the label is kept), ``image_index`` (the image id), ``patient_id`` (an int, the same
    for one patient's images; per image where the set has no patients), ``boxes``.
    """

    def __init__(
        self,
        table: LabelTable,
        root: str | os.PathLike,
        transform: Transform | None = None,
        *,
        uncertain: UncertaintyPolicy | str = UncertaintyPolicy.IGNORE,
        blank: BlankPolicy | str = BlankPolicy.NEGATIVE,
        boxes: Mapping[str, Mapping[str, np.ndarray]] | None = None,
        on_missing: str = "error",
    ) -> None:
        if on_missing not in ("error", "skip"):
            raise ValueError(f"Expected `on_missing` 'error' or 'skip', got {on_missing!r}.")
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"Data root not found: {self.root}")
        self.transform = transform
        self.targets, self.masks = apply_policy(table.labels, uncertain, blank)
        self.uncertain, self.blank = UncertaintyPolicy(uncertain), BlankPolicy(blank)
        self._boxes = dict(boxes or {})
        paths = self._locate(table)
        absent = [i for i, path in enumerate(paths) if path is None]
        if absent and on_missing == "error":
            raise FileNotFoundError(
                f"{len(absent)} images of the {table.layout} table are not under {self.root}, "
                f"e.g. {[table.paths[i] for i in absent[:3]]}; pass on_missing='skip' to drop them."
            )
        if absent:
            warnings.warn(
                f"Skipped {len(absent)} listed but missing images under {self.root}.", stacklevel=2
            )
        keep = np.asarray([p is not None for p in paths], dtype=bool)
        self.table = table.select(keep)
        self.targets, self.masks = self.targets[keep], self.masks[keep]
        self._paths = [p for p in paths if p is not None]
        self.skipped = len(absent)
        groups = self.table.groups
        number = {g: i for i, g in enumerate(dict.fromkeys(groups))}
        self.patient_ids = [number[g] for g in groups]

    def _locate(self, table: LabelTable) -> list[Path | None]:
        found = [self.root / p if (self.root / p).is_file() else None for p in table.paths]
        names = [Path(p).name for p in table.paths]
        if all(found) or len(set(names)) != len(names):  # CheXpert: every file is view1_...
            return found
        by_name: dict[str, list[Path]] = {}
        for path in self.root.rglob("*"):
            if path.is_file():
                by_name.setdefault(path.name, []).append(path)
        return [
            f or (by_name[n][0] if len(by_name.get(n, ())) == 1 else None)
            for f, n in zip(found, names, strict=True)
        ]

    def __len__(self) -> int:
        return len(self._paths)

    @property
    def box_images(self) -> int:
        """How many images of the table have at least one GT box."""
        return sum(
            1 for i in self.table.image_ids if any(map(len, self._boxes.get(i, {}).values()))
        )

    @property
    def bad_boxes(self) -> list[Any]:
        """Boxes dropped for lying outside their image: none (such a box is refused)."""
        return []

    def box_labels(self) -> list[tuple[str, str]]:
        """``(image id, class)`` of every GT box, in the table's order."""
        return [
            (i, name)
            for i in self.table.image_ids
            for name, rows in self._boxes.get(i, {}).items()
            for _ in range(len(rows))
        ]

    @property
    def labels(self) -> torch.Tensor:
        """``(N, K)`` targets of every item."""
        return torch.from_numpy(self.targets)

    def __getitem__(self, index: int) -> dict[str, Any]:
        image_id = self.table.image_ids[index]
        gray = read_image(self._paths[index])
        height, width = gray.shape
        by_class = self._boxes.get(image_id, {})
        names = [name for name, rows in by_class.items() for _ in range(len(rows))]
        rows = (
            np.concatenate([np.asarray(r, float).reshape(-1, 4) for r in by_class.values()])
            if names
            else np.zeros((0, 4))
        )
        # checked in float64, as given: a box ending on the image's edge stays inside
        outside = [tuple(b) for b in rows.tolist() if not box_in_frame(b, (height, width))]
        xywh = torch.tensor(rows, dtype=torch.float32)
        if outside:
            raise MetadataError(
                f"box {list(outside[0])} of {image_id} lies outside its {height} x {width} image."
            )
        image, boxes = transform_with_boxes(gray, xywh, self.transform)
        grouped: dict[str, list[torch.Tensor]] = {}
        for name, box in zip(names, boxes, strict=True):
            grouped.setdefault(name, []).append(box)
        return {
            "image": image,
            "labels": torch.from_numpy(self.targets[index]),
            "label_mask": torch.from_numpy(self.masks[index]),
            "image_index": image_id,
            "patient_id": self.patient_ids[index],
            "boxes": {name: torch.stack(rows) for name, rows in grouped.items()},
        }
